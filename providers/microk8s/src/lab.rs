//! What the lab needs to play a MicroK8s machine: [`read_launch`] reads, from a machine's
//! user_data, the part brick's cloud-init gives MicroK8s (the bootstrap node's CA and token, or
//! a joiner's join URL), [`serving_certificate`] makes the API server certificate the
//! first node would hold after `microk8s refresh-certs`, and [`Agent`] plays the first node's
//! cluster agent: the dqlite voters, and `POST /cluster/api/v2.0/dqlite/remove` that removes
//! one. The lab itself (which starts the simulated API server and registers Nodes) is the
//! engine's composition; this module knows only MicroK8s' side.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, SanType,
};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use yaml_rust2::{Yaml, YamlLoader};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use crate::render::AGENT_PORT;
use crate::render::{AGENT_TOKEN_PATH, LAUNCH_CONFIG_PATH, WORK_DIR};

/// The port of a MicroK8s node's dqlite: a datastore member is `<address>:19001`.
pub const DQLITE_PORT: u16 = 19001;

/// What a machine's MicroK8s would do, as its launch configurations say.
#[derive(Clone, Debug, PartialEq)]
pub enum Launch {
    /// The first node: forms the cluster with this CA, then registers the token.
    Bootstrap {
        ca_certificate: String,
        ca_private_key: String,
        token: String,
        /// The API server certificate's extra names (`extraSANs`).
        sans: Vec<String>,
        /// The token of the agent's Cluster API endpoints (`/capi/etc/token`), when written.
        agent_token: Option<String>,
    },
    /// Another node: joins `address` (the cluster agent at `address:25000`) with `token`.
    Join {
        address: String,
        token: String,
        worker: bool,
    },
}

fn files(doc: &Yaml) -> Vec<(String, String)> {
    doc["write_files"]
        .as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|f| {
                    Some((
                        f["path"].as_str()?.to_string(),
                        f["content"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the launch of a node from its cloud-init user_data; `None` when the document is not
/// a MicroK8s node's (or not brick's).
pub fn read_launch(user_data: &str) -> Option<Launch> {
    if !user_data.starts_with("#cloud-config") {
        return None;
    }
    let doc = YamlLoader::load_from_str(user_data)
        .ok()?
        .into_iter()
        .next()?;
    let files = files(&doc);
    let file = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.clone())
    };
    let launch = YamlLoader::load_from_str(&file(LAUNCH_CONFIG_PATH)?)
        .ok()?
        .into_iter()
        .next()?;
    if let Some(ca) = file(&format!("{WORK_DIR}/ca/ca.crt")) {
        let key = file(&format!("{WORK_DIR}/ca/ca.key"))?;
        let cluster = YamlLoader::load_from_str(&file(&format!("{WORK_DIR}/cluster.yaml"))?)
            .ok()?
            .into_iter()
            .next()?;
        return Some(Launch::Bootstrap {
            ca_certificate: ca,
            ca_private_key: key,
            token: cluster["persistentClusterToken"].as_str()?.to_string(),
            sans: strings(&launch["extraSANs"]),
            agent_token: file(AGENT_TOKEN_PATH).map(|t| t.trim().to_string()),
        });
    }
    let url = launch["join"]["url"].as_str()?;
    let (host, rest) = url.split_once(':')?;
    let (port, token) = rest.split_once('/')?;
    if port != AGENT_PORT.to_string() {
        return None;
    }
    Some(Launch::Join {
        address: host.to_string(),
        token: token.split('/').next()?.to_string(),
        worker: launch["join"]["worker"].as_bool().unwrap_or(false),
    })
}

/// The API server's serving certificate for `names` (IP addresses or DNS names), signed by the
/// cluster's CA (PEM certificate and PKCS#1 RSA key, as `microk8s_cluster` makes them).
/// Returns the certificate and its key (PEM).
pub fn serving_certificate(
    ca_certificate: &str,
    ca_private_key: &str,
    names: &[String],
) -> Result<(String, String), String> {
    let rsa_key = rsa::RsaPrivateKey::from_pkcs1_pem(ca_private_key)
        .map_err(|e| format!("the CA key is not a PKCS#1 RSA key: {e}"))?;
    let der = rsa_key
        .to_pkcs8_der()
        .map_err(|e| format!("encoding the CA key: {e}"))?;
    let ca_key = KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes()),
        &PKCS_RSA_SHA256,
    )
    .map_err(|e| format!("loading the CA key: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(ca_certificate, ca_key)
        .map_err(|e| format!("reading the CA certificate: {e}"))?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .filter_map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().ok().map(SanType::DnsName),
        })
        .collect();
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(365);
    let cert = p.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The first node's cluster agent, as the lab plays it: the cluster's dqlite voters (each
/// `<address>:19001`) and, on `https://<address>:25000`, the one endpoint brick calls:
/// `POST /cluster/api/v2.0/dqlite/remove` with the header `capi-auth-token` and the body
/// `{"remove_endpoint": "<address>:19001"}`. As MicroK8s' agent (`pkg/api/v2/remove.go`): no
/// token file, 500; a token that differs, 401; an endpoint that is not a member (dqlite's
/// `.remove` fails), 500; errors as `{"error": "..."}`. Joins are the lab's own business
/// ([`Agent::join`]): they do not go over HTTP.
pub struct Agent {
    members: Arc<Mutex<Vec<String>>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Listens on `bind` (TLS with `cert_pem`/`key_pem`, the node's certificate) with the
    /// bootstrap node `first` (its address) as the only voter.
    pub async fn start(
        bind: SocketAddr,
        cert_pem: &str,
        key_pem: &str,
        token: Option<String>,
        first: &str,
    ) -> Result<Agent, String> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("listening on {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let members = Arc::new(Mutex::new(vec![format!("{first}:{DQLITE_PORT}")]));
        let token = Arc::new(token);
        let served = members.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, members, token) = (acceptor.clone(), served.clone(), token.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let (members, token) = (members.clone(), token.clone());
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handle(req, &members, token.as_deref()).await,
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Ok(Agent {
            members,
            addr,
            task,
        })
    }

    /// Where the agent listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A control-plane node joined: its address becomes a voter.
    pub fn join(&self, address: &str) {
        let endpoint = format!("{address}:{DQLITE_PORT}");
        let mut m = self.members.lock().expect("agent members");
        if !m.contains(&endpoint) {
            m.push(endpoint);
        }
    }

    /// The dqlite voters, as `microk8s status` or the datastore's `cluster.yaml` lists them.
    pub fn members(&self) -> Vec<String> {
        self.members.lock().expect("agent members").clone()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(
    status: u16,
    body: serde_json::Value,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("a valid response")
}

async fn handle(
    req: hyper::Request<Incoming>,
    members: &Mutex<Vec<String>>,
    token: Option<&str>,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let error = |status: u16, msg: String| reply(status, serde_json::json!({ "error": msg }));
    if req.uri().path() != "/cluster/api/v2.0/dqlite/remove" {
        return error(404, "404 page not found".into());
    }
    if req.method() != hyper::Method::POST {
        return reply(405, serde_json::Value::Null);
    }
    let given = req
        .headers()
        .get("capi-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Ok(body) = req.into_body().collect().await else {
        return error(
            400,
            "Failed to unmarshal JSON: failed to read request body".into(),
        );
    };
    let endpoint = match serde_json::from_slice::<serde_json::Value>(&body.to_bytes()) {
        Ok(v) => v["remove_endpoint"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        Err(e) => return error(400, format!("Failed to unmarshal JSON: {e}")),
    };
    let Some(token) = token else {
        return error(
            500,
            "Failed to remove from dqlite: failed to validate CAPI auth token: failed to read token file".into(),
        );
    };
    if given != token {
        return error(
            401,
            format!("Failed to remove from dqlite: invalid CAPI auth token {given:?}"),
        );
    }
    let mut m = members.lock().expect("agent members");
    let Some(at) = m.iter().position(|e| *e == endpoint) else {
        return error(
            500,
            format!(
                "Failed to remove from dqlite: failed to remove node from dqlite: failed to run remove command: no node at {endpoint:?}"
            ),
        );
    };
    m.remove(at);
    reply(200, serde_json::Value::Null)
}
