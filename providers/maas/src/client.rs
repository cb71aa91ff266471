//! A small client of the MAAS 2.0 REST API, as the provider needs it.
//!
//! - OAuth 1.0 PLAINTEXT signing as MAAS expects it (`oauth_signature="&<token_secret>"`,
//!   percent-encoded in the header);
//! - TLS verification on (rustls with the Mozilla roots), with an extra CA file for a MAAS
//!   with its own certificate authority;
//! - retries with exponential backoff on connection errors, 502/503/504 and on 409s that
//!   carry `Retry-After` (MAAS's database-conflict answer), honouring `Retry-After`, for at
//!   most [`RetryPolicy::give_up_after`] (a minute by default), each retry announced through
//!   [`ClientConfig::on_retry`] ("still trying http://…: connection refused, attempt 3");
//! - a create (`POST` without `op`, or an operation sent with [`MaasClient::post_once`]) is
//!   never sent twice blindly: when its answer is lost after it was sent (a gateway's 504, a
//!   connection cut mid-answer) the call fails with [`MaasError::Unconfirmed`], and the
//!   caller looks the object up before trying again;
//! - a 401 is asked once: after MAAS refused the key, every later call of this client (and
//!   its clones) fails at once with the same error, without sending anything;
//! - errors that say what MAAS said, and never print the API key.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (as OAuth wants).
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How hard to try before giving up.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt: an
    /// unreachable MAAS is an error within about this long.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
            give_up_after: Duration::from_secs(45),
        }
    }
}

/// Where retry notices go (`still trying http://…: connection refused, attempt 3`).
pub type RetryNotice = Arc<dyn Fn(&str) + Send + Sync>;

/// How to reach MAAS.
#[derive(Clone)]
pub struct ClientConfig {
    /// `http(s)://HOST:5240/MAAS` (with or without `/api/2.0/`).
    pub api_url: String,
    /// `consumer_key:token_key:token_secret`.
    pub api_key: String,
    /// A PEM file of extra certificate authorities to trust.
    pub ca_file: Option<PathBuf>,
    pub retry: RetryPolicy,
    /// Per-request timeout (`query_power_state` can block for a minute).
    pub request_timeout: Duration,
    /// How long to wait for a TCP connection (and TLS) before counting the attempt failed.
    pub connect_timeout: Duration,
    /// Told before each retry, with the reason and the attempt's number.
    pub on_retry: Option<RetryNotice>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl ClientConfig {
    pub fn new(api_url: impl Into<String>, api_key: impl Into<String>) -> ClientConfig {
        ClientConfig {
            api_url: api_url.into(),
            api_key: api_key.into(),
            ca_file: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(5),
            on_retry: None,
        }
    }
}

/// What went wrong talking to MAAS.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MaasError {
    #[error("{0}")]
    Config(String),
    /// 401/403: the key is wrong or lacks the right. The message never contains the key.
    #[error("MAAS at {url} refused the request (HTTP {status}): {message}")]
    Auth {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{message}")]
    NotFound { message: String },
    /// 409: the object is in a state that forbids the operation.
    #[error("{message}")]
    Conflict { message: String },
    /// 400: MAAS rejected the parameters (`fields` holds its form errors, when JSON).
    #[error("MAAS rejected the request: {message}")]
    BadRequest {
        message: String,
        fields: Option<Json>,
    },
    /// Other HTTP errors, after retries where they apply.
    #[error("MAAS answered HTTP {status} to {method} {path}: {message}")]
    Http {
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    /// Connection failures, after retries.
    #[error("cannot reach MAAS at {url}: {message}")]
    Transport { url: String, message: String },
    /// A create was sent but its answer was lost (a gateway's 504, a connection cut): MAAS
    /// may have done it. The caller looks the object up before sending it again.
    #[error("MAAS did not confirm {method} {path} ({message}); it may have been carried out")]
    Unconfirmed {
        method: String,
        path: String,
        message: String,
    },
    #[error("MAAS sent an answer brick cannot read: {0}")]
    Decode(String),
}

impl MaasError {
    /// A stable diagnostic code.
    pub fn code(&self) -> &'static str {
        match self {
            MaasError::Config(_) => "brick::maas::config",
            MaasError::Auth { .. } => "brick::maas::unauthorized",
            MaasError::NotFound { .. } => "brick::maas::not_found",
            MaasError::Conflict { .. } => "brick::maas::conflict",
            MaasError::BadRequest { .. } => "brick::maas::bad_request",
            MaasError::Http { .. } => "brick::maas::http",
            MaasError::Transport { .. } => "brick::maas::unreachable",
            MaasError::Unconfirmed { .. } => "brick::maas::unconfirmed",
            MaasError::Decode(_) => "brick::maas::decode",
        }
    }
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            MaasError::Transport { .. } | MaasError::Unconfirmed { .. } => true,
            MaasError::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}

/// The parts of an API key.
#[derive(Clone)]
struct Credentials {
    consumer: String,
    token: String,
    secret: String,
}

/// A MAAS API client. Cheap to clone.
#[derive(Clone)]
pub struct MaasClient {
    http: reqwest::Client,
    /// `…/MAAS/api/2.0/`
    base: String,
    creds: Credentials,
    retry: RetryPolicy,
    on_retry: Option<RetryNotice>,
    /// MAAS's 401, once it was said: the key will not get better during this run.
    refused: Arc<Mutex<Option<MaasError>>>,
}

impl std::fmt::Debug for MaasClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaasClient")
            .field("base", &self.base)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// The API root for a user-given MAAS URL.
pub fn api_root(url: &str) -> String {
    let mut u = url.trim().trim_end_matches('/').to_string();
    if !u.ends_with("/api/2.0") {
        u.push_str("/api/2.0");
    }
    u.push('/');
    u
}

impl MaasClient {
    pub fn new(cfg: &ClientConfig) -> Result<MaasClient, MaasError> {
        let url = cfg.api_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(MaasError::Config(format!(
                "The MAAS URL \"{url}\" is not an http:// or https:// URL."
            )));
        }
        let mut parts = cfg.api_key.trim().split(':');
        let creds = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(c), Some(t), Some(s), None)
                if !c.is_empty() && !t.is_empty() && !s.is_empty() =>
            {
                Credentials {
                    consumer: c.to_string(),
                    token: t.to_string(),
                    secret: s.to_string(),
                }
            }
            _ => {
                return Err(MaasError::Config(
                    "The MAAS API key is malformed: it has the form consumer_key:token_key:token_secret (as `maas apikey` prints it).".into(),
                ));
            }
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .user_agent(concat!("brick-provider-maas/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                MaasError::Config(format!("Cannot read the CA file {}: {e}.", ca.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    if c.is_empty() {
                        Err("no certificate found".to_string())
                    } else {
                        Ok(c)
                    }
                })
                .map_err(|e| {
                    MaasError::Config(format!(
                        "The CA file {} holds no usable PEM certificate: {e}.",
                        ca.display()
                    ))
                })?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| MaasError::Config(format!("Cannot set up HTTPS: {e}.")))?;
        Ok(MaasClient {
            http,
            base: api_root(url),
            creds,
            retry: cfg.retry.clone(),
            on_retry: cfg.on_retry.clone(),
            refused: Arc::new(Mutex::new(None)),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The OAuth 1.0 PLAINTEXT `Authorization` header.
    fn authorization(&self) -> String {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nonce = format!("{}{}", ts.as_nanos(), NONCE.fetch_add(1, Ordering::Relaxed));
        let enc = |s: &str| utf8_percent_encode(s, OAUTH_ENCODE).to_string();
        format!(
            "OAuth realm=\"\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"{}\", oauth_timestamp=\"{}\", oauth_nonce=\"{}\", oauth_version=\"1.0\"",
            enc(&self.creds.consumer),
            enc(&self.creds.token),
            enc(&format!("&{}", self.creds.secret)),
            ts.as_secs(),
            nonce
        )
    }

    /// One call, with retries. `path` is relative to the API root (`machines/abc123/`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        op: Option<&str>,
        params: &[(&str, String)],
    ) -> Result<Json, MaasError> {
        let create = method == Method::POST && op.is_none();
        self.send(method, path, op, params, create).await
    }

    /// One call, with retries; `once`: the call must not be sent twice blindly, so a lost
    /// answer (after it may have reached MAAS) is [`MaasError::Unconfirmed`], not a retry.
    async fn send(
        &self,
        method: Method,
        path: &str,
        op: Option<&str>,
        params: &[(&str, String)],
        once: bool,
    ) -> Result<Json, MaasError> {
        if let Some(e) = self.refused.lock().expect("refused lock").clone() {
            return Err(e);
        }
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(op) = op {
            query.push(("op", op.to_string()));
        }
        let form_body = matches!(method, Method::POST | Method::PUT);
        if !form_body {
            query.extend(params.iter().cloned());
        }
        // A create sent twice makes two objects (or trips over the first): its lost answers
        // are the caller's to settle, as are those of the operations sent with
        // [`MaasClient::post_once`]. Other operations (`op=`) and PUT/DELETE are safe to
        // repeat: a repeated transition answers 409, which the callers read as "look again".
        let create = once;
        let unconfirmed = |message: String| MaasError::Unconfirmed {
            method: method.to_string(),
            path: path.to_string(),
            message,
        };
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, self.authorization())
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                req = req.query(&query);
            }
            if form_body {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish();
                req = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body);
            }
            let outcome = req.send().await;
            let resp = match outcome {
                Ok(r) => r,
                Err(e) => {
                    // A failed connection sent nothing; anything later may have reached MAAS.
                    if create && !e.is_connect() {
                        return Err(unconfirmed(short_reason(&e)));
                    }
                    if let Some(delay) = self.retry_delay(attempt, started, None) {
                        self.announce(&url, &short_reason(&e), attempt + 1);
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(MaasError::Transport {
                        url: self.base.clone(),
                        message: format!(
                            "{} (gave up after {attempt} attempt{} in {}s)",
                            describe_reqwest_error(&e),
                            if attempt == 1 { "" } else { "s" },
                            started.elapsed().as_secs()
                        ),
                    });
                }
            };
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let is_json = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"));
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if create {
                        return Err(unconfirmed(short_reason(&e)));
                    }
                    if let Some(delay) = self.retry_delay(attempt, started, None) {
                        self.announce(&url, &short_reason(&e), attempt + 1);
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(MaasError::Transport {
                        url: self.base.clone(),
                        message: describe_reqwest_error(&e),
                    });
                }
            };
            // 502 and 504 come from a gateway that may have passed the request on; 503 and a
            // 409 with Retry-After are MAAS refusing before doing anything.
            if create && matches!(status.as_u16(), 502 | 504) {
                return Err(unconfirmed(format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )));
            }
            let retryable = matches!(status.as_u16(), 502..=504)
                || (status == StatusCode::CONFLICT && retry_after.is_some());
            if retryable && let Some(delay) = self.retry_delay(attempt, started, retry_after) {
                self.announce(
                    &url,
                    &format!(
                        "HTTP {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    ),
                    attempt + 1,
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            if status.is_success() {
                if body.is_empty() || status == StatusCode::NO_CONTENT {
                    return Ok(Json::Null);
                }
                return serde_json::from_slice(&body)
                    .map_err(|e| MaasError::Decode(format!("{method} {path}: {e}")));
            }
            let text = String::from_utf8_lossy(&body).trim().to_string();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("").to_string()
            } else {
                text.chars().take(500).collect()
            };
            let error = match status.as_u16() {
                401 | 403 => MaasError::Auth {
                    url: self.base.clone(),
                    status: status.as_u16(),
                    message,
                },
                404 => MaasError::NotFound { message },
                409 => MaasError::Conflict { message },
                400 => MaasError::BadRequest {
                    fields: if is_json {
                        serde_json::from_slice(&body).ok()
                    } else {
                        None
                    },
                    message: form_message(&message),
                },
                s => MaasError::Http {
                    status: s,
                    method: method.to_string(),
                    path: path.to_string(),
                    message,
                },
            };
            if status == StatusCode::UNAUTHORIZED {
                *self.refused.lock().expect("refused lock") = Some(error.clone());
            }
            return Err(error);
        }
    }

    /// The pause before attempt `attempt + 1`, or `None` when the policy says stop.
    fn retry_delay(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.retry.max_attempts {
            return None;
        }
        let delay = self.backoff(attempt, retry_after);
        (started.elapsed() + delay <= self.retry.give_up_after).then_some(delay)
    }

    fn announce(&self, url: &str, reason: &str, next_attempt: u32) {
        if let Some(notice) = &self.on_retry {
            notice(&format!(
                "still trying {url}: {reason}, attempt {next_attempt}"
            ));
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.retry.max_delay);
        }
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let capped = exp.min(self.retry.max_delay);
        // Up to 25% jitter, from the clock: enough to spread concurrent pollers.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos() as u64;
        let jitter = capped.as_millis() as u64 / 4;
        capped + Duration::from_millis(if jitter == 0 { 0 } else { nanos % jitter })
    }

    pub async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Json, MaasError> {
        self.call(Method::GET, path, None, params).await
    }
    pub async fn get_op(
        &self,
        path: &str,
        op: &str,
        params: &[(&str, String)],
    ) -> Result<Json, MaasError> {
        self.call(Method::GET, path, Some(op), params).await
    }
    pub async fn post(
        &self,
        path: &str,
        op: Option<&str>,
        params: &[(&str, String)],
    ) -> Result<Json, MaasError> {
        self.call(Method::POST, path, op, params).await
    }
    /// An operation that is not safe to send twice (`create_logical_volume`, `format`,
    /// `unmount`, …: MAAS refuses the repeat, or does the work again): when its answer is lost
    /// after it was sent (a gateway's 502/504, a connection cut) the call fails with
    /// [`MaasError::Unconfirmed`] and the caller reads back whether it was done. Refusals
    /// before any work (503, 409 with `Retry-After`, no connection) are retried as usual.
    pub async fn post_once(
        &self,
        path: &str,
        op: &str,
        params: &[(&str, String)],
    ) -> Result<Json, MaasError> {
        self.send(Method::POST, path, Some(op), params, true).await
    }
    pub async fn put(&self, path: &str, params: &[(&str, String)]) -> Result<Json, MaasError> {
        self.call(Method::PUT, path, None, params).await
    }
    pub async fn delete(&self, path: &str) -> Result<Json, MaasError> {
        self.call(Method::DELETE, path, None, &[]).await
    }

    // ---- typed helpers ----------------------------------------------------------------------

    /// `GET machines/` with filters (repeat a key for a list).
    pub async fn machines(&self, filters: &[(&str, String)]) -> Result<Vec<Json>, MaasError> {
        match self.get("machines/", filters).await? {
            Json::Array(a) => Ok(a),
            other => Err(MaasError::Decode(format!(
                "GET machines/ answered {} instead of a list",
                kind_of(&other)
            ))),
        }
    }
    pub async fn machine(&self, system_id: &str) -> Result<Json, MaasError> {
        self.get(&format!("machines/{system_id}/"), &[]).await
    }
    pub async fn machine_op(
        &self,
        system_id: &str,
        op: &str,
        params: &[(&str, String)],
    ) -> Result<Json, MaasError> {
        self.post(&format!("machines/{system_id}/"), Some(op), params)
            .await
    }
    pub async fn whoami(&self) -> Result<String, MaasError> {
        let me = self.get_op("users/", "whoami", &[]).await?;
        me.get("username")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| MaasError::Decode("users/?op=whoami has no username".into()))
    }
}

/// Base64 as MAAS's `user_data` wants it.
pub fn encode_user_data(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

fn kind_of(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// MAAS's form errors (`{"field": ["msg"]}`) as one sentence.
fn form_message(text: &str) -> String {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let msgs: Vec<String> = match v {
                    Json::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect(),
                    other => vec![other.to_string()],
                };
                if k == "__all__" {
                    msgs.join(" ")
                } else {
                    format!("{k}: {}", msgs.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => text.to_string(),
    }
}

/// A few words for a retry notice: "connection refused", "connect timed out", ….
fn short_reason(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "timed out".into(),
                _ => io.to_string(),
            };
        }
        src = s.source();
    }
    if e.is_timeout() {
        if e.is_connect() {
            "connect timed out".into()
        } else {
            "timed out waiting for the answer".into()
        }
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        describe_reqwest_error(e)
    }
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_is_derived_from_the_maas_url_as_users_write_it() {
        assert_eq!(
            api_root("http://h:5240/MAAS"),
            "http://h:5240/MAAS/api/2.0/"
        );
        assert_eq!(
            api_root("http://h:5240/MAAS/"),
            "http://h:5240/MAAS/api/2.0/"
        );
        assert_eq!(api_root("http://h/MAAS/api/2.0/"), "http://h/MAAS/api/2.0/");
    }

    #[test]
    fn a_malformed_key_is_refused_without_echoing_it() {
        let err = MaasClient::new(&ClientConfig::new("http://h/MAAS", "only-one-part-secret"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("only-one-part-secret"), "{err}");
        assert!(err.contains("consumer_key:token_key:token_secret"));
    }

    #[test]
    fn the_plaintext_signature_is_the_percent_encoded_token_secret() {
        let c = MaasClient::new(&ClientConfig::new("http://h/MAAS", "ck:tk:s+c/t")).unwrap();
        let h = c.authorization();
        assert!(h.contains("oauth_signature=\"%26s%2Bc%2Ft\""), "{h}");
        assert!(h.contains("oauth_signature_method=\"PLAINTEXT\""));
        assert!(!format!("{c:?}").contains("s+c/t"));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_configuration_error() {
        let mut cfg = ClientConfig::new("https://h/MAAS", "a:b:c");
        cfg.ca_file = Some("/nonexistent/brick-ca.pem".into());
        let e = MaasClient::new(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("Cannot read the CA file /nonexistent/brick-ca.pem"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("brick-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        cfg.ca_file = Some(dir.clone());
        let r = MaasClient::new(&cfg);
        std::fs::remove_file(&dir).unwrap();
        // A file without any certificate adds nothing to trust: refused rather than ignored.
        let e = r.map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("holds no usable PEM certificate"), "{e}");
    }

    #[test]
    fn form_errors_read_as_one_sentence() {
        assert_eq!(
            form_message(r#"{"distro_series": ["'x' is not valid."]}"#),
            "distro_series: 'x' is not valid."
        );
    }
}
