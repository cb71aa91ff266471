//! Injected faults (the lab's `--error-rate` and latency): a seeded share of API requests is
//! answered, before any work is done, as a busy kube-apiserver answers — 429 TooManyRequests
//! (priority and fairness), 503 ServiceUnavailable or 500 ServerTimeout ("try again later") —
//! each with `Retry-After: 1` and `details.retryAfterSeconds`, and every answer can be delayed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// What to inject. The default injects nothing.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The share (0.0–1.0) of requests answered 429, 503 or 500 with `Retry-After`.
    pub error_rate: f64,
    /// Added to every answer.
    pub latency: Duration,
    /// Seeds the fault rolls: the same seed gives the same sequence of faults.
    pub seed: u64,
}

/// The faults of a running server: the settings, the roll's state and a count of injections.
pub(crate) struct Injector {
    pub faults: Faults,
    state: AtomicU64,
    injected: AtomicU64,
}

impl Injector {
    pub fn new(faults: Faults) -> Injector {
        let state = AtomicU64::new(faults.seed | 1);
        Injector {
            faults,
            state,
            injected: AtomicU64::new(0),
        }
    }

    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// A roll in [0, 1) and a second number to pick the answer with (xorshift).
    fn roll(&self) -> (f64, u64) {
        let mut x = self.state.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y << 13;
            y ^= y >> 7;
            y ^= y << 17;
            match self
                .state
                .compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return ((y >> 11) as f64 / (1u64 << 53) as f64, y),
                Err(now) => x = now,
            }
        }
    }

    /// The fault to answer this request with, if one is rolled: its status code and body.
    pub fn fault(&self) -> Option<(u16, Value)> {
        if self.faults.error_rate <= 0.0 {
            return None;
        }
        let (p, pick) = self.roll();
        if p >= self.faults.error_rate {
            return None;
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        let (code, reason, message) = match pick % 3 {
            0 => (
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            1 => (
                503,
                "ServiceUnavailable",
                "The server is currently unable to handle the request.",
            ),
            _ => (
                500,
                "ServerTimeout",
                "The server cannot complete the requested operation at this time, try again later",
            ),
        };
        Some((
            code,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "details": {"retryAfterSeconds": 1},
                "code": code}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_asked_share_of_rolls_is_a_fault_of_each_kind() {
        let i = Injector::new(Faults {
            error_rate: 0.1,
            seed: 7,
            ..Faults::default()
        });
        let mut codes = std::collections::BTreeMap::new();
        for _ in 0..10_000 {
            if let Some((c, _)) = i.fault() {
                *codes.entry(c).or_insert(0) += 1;
            }
        }
        let total: i32 = codes.values().sum();
        assert!((800..1200).contains(&total), "{codes:?}");
        assert_eq!(codes.len(), 3, "{codes:?}");
        assert_eq!(i.injected(), total as u64);
    }
}
