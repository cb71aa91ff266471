//! The connection to the API server: the `kube` client built from the provider's
//! configuration, the discovery cache (one request per group version, kept for the run), a
//! count of the API requests made, and the provider's errors as diagnostics.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brick_provider_api::Diagnostic;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersion;
use kube::discovery::{self, Scope};
use kube::{Client, Config};
use tokio::sync::Mutex;

/// How a kind is served: its resource and whether objects of it live in a namespace.
#[derive(Clone, Debug)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The kinds one group version serves.
type Served = Arc<Vec<(ApiResource, Scope)>>;

/// What discovery found for one group version (`None` inside: not served), once asked. Each
/// group version has a lock of its own: concurrent users of one group version make one
/// discovery request, and different group versions are discovered at the same time.
type Slot = Arc<Mutex<Option<Option<Served>>>>;

/// Everything the resources share once the provider is configured.
pub struct Ctx {
    pub client: Client,
    /// The server's address, for messages.
    pub host: String,
    /// The namespace of objects that name none (kubectl's rule: the context's, else `default`).
    pub default_namespace: String,
    requests: Arc<AtomicU64>,
    /// apiVersion → the kinds it serves, once discovered.
    discovery: std::sync::Mutex<HashMap<String, Slot>>,
    /// Whether the server proved to be a Kubernetes API server (see `is_kubernetes`).
    checked_server: Mutex<bool>,
}

impl Ctx {
    /// A client for `config`. It retries by brick's one policy, [`crate::retry::Transient`],
    /// instead of kube's: with `config.default_retry` (kube's default) every transient failure;
    /// a caller that turns it off (a drain, which must see an eviction's 429 itself) only the
    /// answers in which the server asked to be asked again (`Retry-After`).
    pub fn new(mut config: Config) -> Result<Ctx, Diagnostic> {
        let retry = std::mem::replace(&mut config.default_retry, false);
        let host = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| {
            Diagnostic::error(
                "brick::k8s::config",
                "Invalid Kubernetes client configuration",
                format!("No client could be made for {host}: {e}."),
            )
        })?;
        // For measurements (bench/k8s.sh): every request's method and path, one per line.
        let log = std::env::var_os("BRICK_K8S_REQUEST_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
                .map(|f| Arc::new(std::sync::Mutex::new(f)))
        });
        let count = tower::util::MapRequestLayer::new(move |req: http_request::Request| {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(f) = &log
                && let Ok(mut f) = f.lock()
            {
                use std::io::Write;
                let _ = writeln!(f, "{} {}", req.method(), req.uri().path());
            }
            req
        });
        // Each attempt is counted; the buffer makes the stack cloneable for the retries (as
        // kube's own client does; like it, this must run inside a tokio runtime).
        let client = builder
            .with_layer(&count)
            .with_layer(&tower::buffer::BufferLayer::new(1024))
            .with_layer(&tower::retry::RetryLayer::new(
                crate::retry::Transient::new(retry),
            ))
            .build();
        Ok(Ctx {
            client,
            host,
            default_namespace,
            requests,
            discovery: std::sync::Mutex::new(HashMap::new()),
            checked_server: Mutex::new(false),
        })
    }

    /// API requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// How `apiVersion`/`kind` is served; `Ok(None)` when the server does not serve it.
    /// Discovery of a group version is cached; a miss asks again only when `fresh`.
    pub async fn kind(
        &self,
        api_version: &str,
        kind: &str,
        fresh: bool,
    ) -> Result<Option<Kind>, Diagnostic> {
        // The group version's lock is held while discovering it: concurrent applies of one
        // group version make one discovery request, not one each; other group versions are
        // discovered meanwhile.
        let slot = self
            .discovery
            .lock()
            .expect("discovery lock")
            .entry(api_version.to_string())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        let served = match cached.clone() {
            Some(Some(list)) if !fresh || list.iter().any(|(r, _)| r.kind == kind) => Some(list),
            Some(None) if !fresh => None,
            _ => {
                let found = self.discover(api_version).await?;
                *cached = Some(found.clone());
                found
            }
        };
        drop(cached);
        Ok(served.and_then(|list| {
            list.iter()
                .find(|(r, _)| r.kind == kind)
                .map(|(r, s)| Kind {
                    resource: r.clone(),
                    namespaced: matches!(s, Scope::Namespaced),
                })
        }))
    }

    async fn discover(&self, api_version: &str) -> Result<Option<Served>, Diagnostic> {
        let gv: GroupVersion = api_version.parse().map_err(|_| {
            Diagnostic::error(
                "brick::k8s::manifest",
                "Invalid apiVersion",
                format!("`{api_version}` is not an apiVersion (`v1`, `apps/v1`, `GROUP/VERSION`)."),
            )
        })?;
        match discovery::pinned_group(&self.client, &gv).await {
            Ok(group) => Ok(Some(Arc::new(
                group
                    .versioned_resources(&gv.version)
                    .into_iter()
                    .map(|(r, c)| (r, c.scope))
                    .collect(),
            ))),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                self.is_kubernetes(api_version).await?;
                Ok(None)
            }
            Err(e) => Err(self.error(&e, &format!("discovering {api_version}"))),
        }
    }

    /// Whether the server that answered 404 for a group version is a Kubernetes API server at
    /// all (its `/version` answers), asked once per run: anything at a wrong address (a web
    /// server, a proxy) would otherwise look like a server that serves no such kind.
    async fn is_kubernetes(&self, api_version: &str) -> Result<(), Diagnostic> {
        let mut checked = self.checked_server.lock().await;
        if *checked {
            return Ok(());
        }
        match self.client.apiserver_version().await {
            Ok(_) => {
                *checked = true;
                Ok(())
            }
            Err(e) => Err(Diagnostic::error(
                "brick::k8s::unreachable",
                "Not a Kubernetes API server",
                format!(
                    "The server at {} answered 404 for {api_version} and no Kubernetes version for /version ({}): it is not a Kubernetes API server.",
                    self.host,
                    chain(&e)
                ),
            )
            .with_help("Check the provider's host or kubeconfig: it points at something else.")),
        }
    }

    /// Forgets what discovery found (after a CRD changed).
    pub async fn forget(&self, api_version: &str) {
        let slot = self
            .discovery
            .lock()
            .expect("discovery lock")
            .get(api_version)
            .cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
    }

    /// The dynamic API of a kind, in `namespace` when it is namespaced.
    pub fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match (kind.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            (true, None) => {
                Api::namespaced_with(self.client.clone(), &self.default_namespace, &kind.resource)
            }
            (false, _) => Api::all_with(self.client.clone(), &kind.resource),
        }
    }

    /// The namespace an object of `kind` lives in: `ns`, else the default one, for a
    /// namespaced kind; none for a cluster-scoped kind (kubectl's rule).
    pub fn namespace_for(&self, kind: &Kind, ns: Option<&str>) -> Option<String> {
        kind.namespaced
            .then(|| ns.unwrap_or(&self.default_namespace).to_string())
    }

    /// A diagnostic for a failed request, saying what was being done.
    pub fn error(&self, e: &kube::Error, doing: &str) -> Diagnostic {
        match e {
            kube::Error::Api(s) => Diagnostic::error(
                "brick::k8s::api",
                api_summary(s.code),
                format!(
                    "The API server at {} refused {doing}: {} (HTTP {}, {}).",
                    self.host, s.message, s.code, s.reason
                ),
            ),
            other => {
                let (why, help) = unreachable_reason(other);
                Diagnostic::error(
                    "brick::k8s::unreachable",
                    "Kubernetes API server unreachable",
                    format!(
                        "{doing} failed: the API server at {} {why}: {}.",
                        self.host,
                        chain(other)
                    ),
                )
                .with_help(help)
            }
        }
    }
}

/// Why a server did not answer, in words, and what to check: nothing listening, a name that
/// does not resolve, no answer in time, or something else on the way.
fn unreachable_reason(e: &kube::Error) -> (String, &'static str) {
    use std::io::ErrorKind::*;
    let text = chain(e);
    let kinds = crate::retry::io_kinds(e);
    let kind = [
        ConnectionRefused,
        TimedOut,
        HostUnreachable,
        NetworkUnreachable,
    ]
    .into_iter()
    .find(|k| kinds.contains(k));
    match kind {
        Some(ConnectionRefused) => (
            "refused the connection (nothing listens there)".into(),
            "Check that the cluster is running and that the provider's host (or the kubeconfig's server) has the right address and port.",
        ),
        _ if text.contains("dns error") || text.contains("failed to lookup address") => (
            "could not be found (its name does not resolve)".into(),
            "Check the host name in the provider's host or the kubeconfig's server, and this machine's DNS.",
        ),
        Some(TimedOut) => (
            format!("did not answer within {} s", CONNECT_TIMEOUT.as_secs()),
            "Check the address and that no firewall drops the connection.",
        ),
        Some(HostUnreachable | NetworkUnreachable) => (
            "cannot be reached (no route)".into(),
            "Check the address and this machine's network.",
        ),
        _ => (
            "did not answer".into(),
            "Check that the cluster is running and that the provider's kubeconfig, host and certificates are right.",
        ),
    }
}

/// The shape of a request as the counting layer sees it.
mod http_request {
    pub type Request = http::Request<kube::client::Body>;
}

fn api_summary(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        422 => "Invalid object",
        _ => "Kubernetes API error",
    }
}

/// An error with its causes, for a message.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut at = e.source();
    while let Some(s) = at {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        at = s.source();
    }
    out
}

/// How long connecting may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
