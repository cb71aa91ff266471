//! brick's one retry policy for Kubernetes API requests (replacing kube's default, which
//! retries 429/503/504 up to 15 times with delays growing to 1,000 s: minutes of silence).
//!
//! Transient failures are retried with a bounded backoff: a 429 (honouring `Retry-After`, up
//! to [`MAX_DELAY`]), a 503 or 504, and a connection reset or closed mid-request (for
//! requests that are safe to send again). An unreachable server — connection refused, no
//! route, a name that does not resolve, the connect timeout — is not retried: the request
//! fails at once and [`crate::client::Ctx::error`] names the host with a hint.
//!
//! An answer in which the server asked to be asked again — a 429, 500, 503 or 504 carrying
//! `Retry-After` (priority and fairness' TooManyRequests, ServerTimeout's "try again later", a
//! server not ready yet) — is sent again up to [`ASKED_RETRIES`] times, waiting as asked (at
//! most [`MAX_DELAY`]), even on a client whose caller turned the general retry off; kube's own
//! retry never covered 500. An eviction's 429 is a PodDisruptionBudget's refusal, which the
//! drain reports and bounds itself: it is never retried here.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::retry::Policy;

/// Retries after the first attempt, at most.
pub const MAX_RETRIES: u32 = 4;
/// The first backoff; each next one doubles.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest single wait, whether from the backoff or the server's `Retry-After`.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Retries, at most, of a request whose answers asked for it (`Retry-After`).
pub const ASKED_RETRIES: u32 = 10;

/// The policy of one request (tower clones it for each request).
#[derive(Clone, Debug, Default)]
pub struct Transient {
    attempt: u32,
    /// Every transient failure (else only answers that carry `Retry-After`).
    all: bool,
}

/// Whether a failed attempt may be retried, and after how long.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Retry(Duration),
    GiveUp,
}

impl Transient {
    /// The policy of a client: `all` retries every transient failure, else only answers in
    /// which the server asked for it.
    pub fn new(all: bool) -> Transient {
        Transient { attempt: 0, all }
    }

    /// The verdict on a request's attempt `attempt`: first whether the server asked to be
    /// asked again (any client, never an eviction), then, for a client that retries all
    /// transient failures, [`Transient::judge`].
    pub fn judge_request(
        &self,
        attempt: u32,
        method: &Method,
        eviction: bool,
        status: Option<StatusCode>,
        retry_after: Option<&str>,
        error: Option<&(dyn std::error::Error + 'static)>,
    ) -> Verdict {
        if eviction && status == Some(StatusCode::TOO_MANY_REQUESTS) {
            return Verdict::GiveUp;
        }
        let asked = retry_after
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if let (Some(s), Some(d)) = (status, asked)
            && matches!(s.as_u16(), 429 | 500 | 503 | 504)
        {
            return if attempt < ASKED_RETRIES {
                Verdict::Retry(d.min(MAX_DELAY))
            } else {
                Verdict::GiveUp
            };
        }
        if !self.all {
            return Verdict::GiveUp;
        }
        Transient::judge(attempt, method, status, retry_after, error)
    }

    /// The verdict on attempt `attempt` (0 = the first try) that answered `status` with
    /// `retry_after` (seconds, as the header said), or failed with `error`.
    pub fn judge(
        attempt: u32,
        method: &Method,
        status: Option<StatusCode>,
        retry_after: Option<&str>,
        error: Option<&(dyn std::error::Error + 'static)>,
    ) -> Verdict {
        if attempt >= MAX_RETRIES {
            return Verdict::GiveUp;
        }
        let backoff = FIRST_DELAY.saturating_mul(1 << attempt).min(MAX_DELAY);
        match (status, error) {
            (Some(StatusCode::TOO_MANY_REQUESTS), _) => {
                let asked = retry_after
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Verdict::Retry(asked.map_or(backoff, |d| d.clamp(backoff, MAX_DELAY)))
            }
            (Some(StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT), _) => {
                Verdict::Retry(backoff)
            }
            (None, Some(e)) if is_reset(e) && idempotent(method) => Verdict::Retry(backoff),
            _ => Verdict::GiveUp,
        }
    }
}

/// GET, HEAD, PUT, PATCH (server-side apply states the whole intent) and DELETE may be sent
/// again after a reset; a POST (create, eviction) may already have taken effect.
fn idempotent(method: &Method) -> bool {
    *method != Method::POST
}

/// A connection that the server (or something between) dropped: reset, aborted, a broken
/// pipe, closed before the answer was complete. Refused, unresolvable and unroutable are not.
fn is_reset(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind::*;
    io_kinds(e).iter().any(|k| {
        matches!(
            k,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        )
    }) || causes(e).iter().any(|c| {
        c.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
    })
}

/// An error and all its causes, including what an `io::Error` wraps (its `source` skips the
/// wrapped error itself: a TLS connector's `io::Error` around the socket's reset hides it).
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut todo = vec![e];
    while let Some(e) = todo.pop() {
        out.push(e);
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            todo.push(inner);
        }
        if let Some(s) = e.source() {
            todo.push(s);
        }
    }
    out
}

/// The kinds of every `io::Error` among an error's causes.
pub fn io_kinds(e: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    causes(e)
        .iter()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .collect()
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for Transient {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        let eviction = req.uri().path().ends_with("/eviction");
        let verdict = match result {
            Ok(r) => self.judge_request(
                self.attempt,
                req.method(),
                eviction,
                Some(r.status()),
                r.headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
                None,
            ),
            Err(e) => self.judge_request(
                self.attempt,
                req.method(),
                eviction,
                None,
                None,
                Some(e.as_ref()),
            ),
        };
        match verdict {
            Verdict::Retry(d) => {
                self.attempt += 1;
                Some(tokio::time::sleep(d))
            }
            Verdict::GiveUp => None,
        }
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // A streamed body cannot be sent twice: such a request is not retried.
        let body = req.body().try_clone()?;
        let mut out = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *out.headers_mut() = req.headers().clone();
        *out.extensions_mut() = req.extensions().clone();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::new(kind, "x")
    }

    #[test]
    fn transient_statuses_back_off_within_bounds_and_stop() {
        let get = Method::GET;
        let t = |a, s: u16, ra| Transient::judge(a, &get, StatusCode::from_u16(s).ok(), ra, None);
        assert_eq!(t(0, 503, None), Verdict::Retry(FIRST_DELAY));
        assert_eq!(t(1, 504, None), Verdict::Retry(FIRST_DELAY * 2));
        assert_eq!(t(0, 429, Some("3")), Verdict::Retry(Duration::from_secs(3)));
        // Retry-After is bounded: a server asking for an hour gets MAX_DELAY.
        assert_eq!(t(0, 429, Some("3600")), Verdict::Retry(MAX_DELAY));
        assert_eq!(t(MAX_RETRIES, 503, None), Verdict::GiveUp);
        for s in [200, 404, 409, 422, 500] {
            assert_eq!(t(0, s, None), Verdict::GiveUp, "{s}");
        }
        let total: Duration = (0..MAX_RETRIES)
            .map(|a| match t(a, 429, Some("3600")) {
                Verdict::Retry(d) => d,
                Verdict::GiveUp => Duration::ZERO,
            })
            .sum();
        assert!(total <= Duration::from_secs(40), "{total:?}");
    }

    #[test]
    fn an_answer_that_asks_for_it_is_retried_by_every_client_but_an_eviction_is_not() {
        let get = Method::GET;
        let s = |c: u16| StatusCode::from_u16(c).ok();
        for all in [true, false] {
            let t = Transient::new(all);
            for c in [429, 500, 503, 504] {
                assert_eq!(
                    t.judge_request(0, &get, false, s(c), Some("1"), None),
                    Verdict::Retry(Duration::from_secs(1)),
                    "{c} all={all}"
                );
                assert_eq!(
                    t.judge_request(ASKED_RETRIES, &get, false, s(c), Some("1"), None),
                    Verdict::GiveUp
                );
            }
            // A PodDisruptionBudget's refusal is the drain's to report.
            assert_eq!(
                t.judge_request(0, &Method::POST, true, s(429), Some("10"), None),
                Verdict::GiveUp
            );
        }
        // Without Retry-After only a client that retries everything transient retries.
        assert_eq!(
            Transient::new(true).judge_request(0, &get, false, s(503), None, None),
            Verdict::Retry(FIRST_DELAY)
        );
        assert_eq!(
            Transient::new(false).judge_request(0, &get, false, s(503), None, None),
            Verdict::GiveUp
        );
        assert_eq!(
            Transient::new(true).judge_request(0, &get, false, s(500), None, None),
            Verdict::GiveUp
        );
    }

    #[test]
    fn a_reset_is_retried_an_unreachable_server_is_not() {
        use std::io::ErrorKind::*;
        let e = |k| Transient::judge(0, &Method::PATCH, None, None, Some(&io(k)));
        assert_eq!(e(ConnectionReset), Verdict::Retry(FIRST_DELAY));
        assert_eq!(e(BrokenPipe), Verdict::Retry(FIRST_DELAY));
        for k in [
            ConnectionRefused,
            HostUnreachable,
            NetworkUnreachable,
            TimedOut,
            Other,
        ] {
            assert_eq!(e(k), Verdict::GiveUp, "{k:?}");
        }
        // A create may have taken effect before the reset.
        let post = Transient::judge(0, &Method::POST, None, None, Some(&io(ConnectionReset)));
        assert_eq!(post, Verdict::GiveUp);
    }
}
