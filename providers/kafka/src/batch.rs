//! Coalescing of concurrent calls into one request. The engine calls `apply_resource` once per
//! resource, and starts the creates (deletes) of a type the provider declares batched
//! (`Provider::batch_size`) together, a batch taking one slot of `--parallelism`; a [`Batcher`]
//! gathers the items of the calls that arrive close together (each new arrival extends a short
//! quiet window, up to a cap) and sends them as one request, giving each caller its own result.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// Sends one batch and returns one result per item, in order.
pub type Flush<T, R> =
    Arc<dyn Fn(Vec<T>) -> Pin<Box<dyn Future<Output = Vec<R>> + Send>> + Send + Sync>;

struct Open<T, R> {
    items: Vec<(T, oneshot::Sender<R>)>,
    last_arrival: Instant,
}

pub struct Batcher<T, R> {
    open: Arc<Mutex<Option<Open<T, R>>>>,
    flush: Flush<T, R>,
    /// How long the batch waits for another arrival before it is sent.
    quiet: Duration,
    /// The longest a batch waits in all.
    max_wait: Duration,
    /// The most items in one request.
    max_items: usize,
    requests: Arc<AtomicUsize>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    pub fn new(flush: Flush<T, R>, quiet: Duration, max_wait: Duration, max_items: usize) -> Self {
        Batcher {
            open: Arc::new(Mutex::new(None)),
            flush,
            quiet,
            max_wait,
            max_items: max_items.max(1),
            requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many requests were sent so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Adds `item` to the open batch (opening one if none is) and waits for its result. `None`
    /// when the batch was lost (the runtime shut down).
    pub async fn submit(&self, item: T) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let opened = {
            let mut open = self.open.lock().expect("batch lock");
            let now = Instant::now();
            match open.as_mut() {
                Some(b) if b.items.len() < self.max_items => {
                    b.items.push((item, tx));
                    b.last_arrival = now;
                    false
                }
                _ => {
                    // A full batch is left to its sender task, which takes it at its next wake.
                    let full = open.take();
                    *open = Some(Open {
                        items: vec![(item, tx)],
                        last_arrival: now,
                    });
                    if let Some(full) = full {
                        self.send_now(full);
                    }
                    true
                }
            }
        };
        if opened {
            self.spawn_sender();
        }
        rx.await.ok()
    }

    fn send_now(&self, batch: Open<T, R>) {
        let flush = self.flush.clone();
        let requests = self.requests.clone();
        tokio::spawn(async move {
            send(batch, &flush, &requests).await;
        });
    }

    /// The task that sends the batch just opened once arrivals stop.
    fn spawn_sender(&self) {
        let open = self.open.clone();
        let flush = self.flush.clone();
        let requests = self.requests.clone();
        let (quiet, max_wait) = (self.quiet, self.max_wait);
        let started = Instant::now();
        tokio::spawn(async move {
            loop {
                let wake = {
                    let guard = open.lock().expect("batch lock");
                    match guard.as_ref() {
                        // Taken (full) by a submitter: nothing left for this task.
                        None => return,
                        Some(b) => (b.last_arrival + quiet).min(started + max_wait),
                    }
                };
                if Instant::now() < wake {
                    tokio::time::sleep_until(wake).await;
                    continue;
                }
                let batch = open.lock().expect("batch lock").take();
                if let Some(batch) = batch {
                    send(batch, &flush, &requests).await;
                }
                return;
            }
        });
    }
}

async fn send<T, R>(batch: Open<T, R>, flush: &Flush<T, R>, requests: &AtomicUsize) {
    requests.fetch_add(1, Ordering::Relaxed);
    let (items, senders): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.items.into_iter().unzip();
    let results = flush(items).await;
    for (tx, r) in senders.into_iter().zip(results) {
        let _ = tx.send(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Arc<Mutex<Vec<Vec<u32>>>>;

    fn recording() -> (Flush<u32, u32>, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let flush: Flush<u32, u32> = Arc::new(move |items: Vec<u32>| {
            s.lock().unwrap().push(items.clone());
            Box::pin(async move { items.into_iter().map(|i| i * 10).collect() })
        });
        (flush, seen)
    }

    #[tokio::test]
    async fn concurrent_calls_become_one_request_and_each_caller_gets_its_own_result() {
        let (flush, seen) = recording();
        let b = Arc::new(Batcher::new(
            flush,
            Duration::from_millis(20),
            Duration::from_secs(1),
            1000,
        ));
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move { (i, b.submit(i).await) }));
        }
        for t in tasks {
            let (i, r) = t.await.unwrap();
            assert_eq!(r, Some(i * 10));
        }
        assert_eq!(b.requests(), 1);
        assert_eq!(seen.lock().unwrap()[0].len(), 200);
    }

    #[tokio::test]
    async fn a_full_batch_is_sent_and_the_rest_go_in_the_next() {
        let (flush, seen) = recording();
        let b = Arc::new(Batcher::new(
            flush,
            Duration::from_millis(20),
            Duration::from_secs(1),
            3,
        ));
        let mut tasks = Vec::new();
        for i in 0..7u32 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move { b.submit(i).await }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_some());
        }
        let mut sizes: Vec<usize> = seen.lock().unwrap().iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![1, 3, 3]);
    }

    #[tokio::test]
    async fn calls_far_apart_are_separate_requests() {
        let (flush, _) = recording();
        let b = Batcher::new(flush, Duration::from_millis(5), Duration::from_secs(1), 10);
        assert_eq!(b.submit(1).await, Some(10));
        assert_eq!(b.submit(2).await, Some(20));
        assert_eq!(b.requests(), 2);
    }
}
