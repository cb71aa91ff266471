//! Ctrl-C (SIGINT) and SIGTERM as a stream of interruptions, counted for the whole process.
//!
//! The first [`Interrupts::install`] replaces the default action (ending the process at once)
//! with a counter, for the rest of the process: commands install it before they take the state
//! lock, so no interruption can end brick while it holds the lock or has work under way. Each
//! phase (settling a journal, planning, the confirmation prompt, applying) listens with its own
//! [`Interrupts`]; an interruption that arrives between two phases is not lost but waits for the
//! next listener, which sees it at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

/// Interruptions received since the listener started.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
/// Interruptions some phase has handled.
static HANDLED: AtomicU64 = AtomicU64::new(0);
/// Woken on every interruption.
static ARRIVED: Notify = Notify::const_new();
/// False when no signal handler could be installed: no interruption will ever come.
static LISTENING: AtomicBool = AtomicBool::new(false);
/// The task turning signals into counts (restarted if its runtime went away).
static LISTENER: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);

/// A listener for interruptions (see the module comment).
pub(super) struct Interrupts(());

impl Interrupts {
    /// Makes sure interruptions are counted from now on (must run inside a tokio runtime) and
    /// returns a listener.
    pub(super) fn install() -> Interrupts {
        let mut task = LISTENER.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            *task = start_listener();
        }
        Interrupts(())
    }

    /// Waits for the next interruption no phase has handled yet (returns at once for one that
    /// came before this call); false when none can come.
    pub(super) async fn next(&mut self) -> bool {
        loop {
            let arrived = ARRIVED.notified();
            tokio::pin!(arrived);
            // Registered before the counts are read, so a signal in between still wakes us.
            arrived.as_mut().enable();
            let handled = HANDLED.load(Ordering::SeqCst);
            if RECEIVED.load(Ordering::SeqCst) > handled {
                if HANDLED
                    .compare_exchange(handled, handled + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            if !LISTENING.load(Ordering::SeqCst) {
                return false;
            }
            arrived.await;
        }
    }
}

#[cfg(unix)]
fn start_listener() -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    if int.is_none() && term.is_none() {
        LISTENING.store(false, Ordering::SeqCst);
        return None;
    }
    LISTENING.store(true, Ordering::SeqCst);
    Some(tokio::spawn(async move {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
            match s {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        }
        let (mut int, mut term) = (int, term);
        loop {
            let got = tokio::select! {
                r = one(&mut int) => r.is_some(),
                r = one(&mut term) => r.is_some(),
            };
            if !got {
                LISTENING.store(false, Ordering::SeqCst);
                ARRIVED.notify_waiters();
                return;
            }
            RECEIVED.fetch_add(1, Ordering::SeqCst);
            ARRIVED.notify_waiters();
        }
    }))
}

#[cfg(not(unix))]
fn start_listener() -> Option<tokio::task::JoinHandle<()>> {
    LISTENING.store(true, Ordering::SeqCst);
    Some(tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            RECEIVED.fetch_add(1, Ordering::SeqCst);
            ARRIVED.notify_waiters();
        }
        LISTENING.store(false, Ordering::SeqCst);
        ARRIVED.notify_waiters();
    }))
}
