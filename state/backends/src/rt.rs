//! The stores' tokio runtime: one per process, never dropped, so a synchronous call works
//! from any thread — a plain one or a worker of the CLI's own runtime — and clients keep
//! their connections between calls.

use std::future::Future;
use std::sync::OnceLock;

static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

pub(crate) fn handle() -> &'static tokio::runtime::Runtime {
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("brick-backend")
            .enable_all()
            .build()
            .expect("the backend runtime starts")
    })
}

/// Runs `f` on the stores' runtime and waits for it (blocking this thread).
pub(crate) fn run<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("a backend task ended without an answer")
}
