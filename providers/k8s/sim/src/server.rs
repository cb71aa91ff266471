//! Serving the simulator: a loopback listener, TLS with the caller's serving certificate
//! (rustls), client-certificate authentication against the caller's CA and bearer tokens,
//! HTTP/1.1 and HTTP/2 (hyper), and the controllers' tasks; [`SimServer`] is the handle the
//! lab and the tests hold.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::controllers::{self, Cluster, Controller, NodeSpec};
use crate::http::{self, App, Auth, ClientCertVerified};
use crate::store::Store;

/// A serving certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

/// How to start a simulated API server.
pub struct SimOptions {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// TLS serving material; `None` serves plain HTTP (tests only).
    pub tls: Option<TlsMaterial>,
    /// Client certificates signed by this CA (PEM) are admitted (the MicroK8s admin cert).
    pub client_ca_pem: Option<String>,
    /// Bearer tokens that are admitted.
    pub tokens: Vec<String>,
    /// The lab's time scale: 1.0 is realistic, 0.01 a hundred times faster.
    pub time_scale: f64,
    /// Controllers to run besides the built-in ones (simulated operators).
    pub controllers: Vec<Arc<dyn Controller>>,
    /// Whether to run the built-in controllers (kube-controller-manager and KWOK's part).
    pub builtin_controllers: bool,
    /// Injected errors and latency (none by default).
    pub faults: crate::faults::Faults,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            client_ca_pem: None,
            tokens: Vec::new(),
            time_scale: 0.01,
            controllers: Vec::new(),
            builtin_controllers: true,
            faults: crate::faults::Faults::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("invalid TLS material: {0}")]
    Tls(String),
}

/// A running simulated API server; stops when dropped.
pub struct SimServer {
    addr: SocketAddr,
    tls: bool,
    faults: Arc<crate::faults::Injector>,
    cluster: Cluster,
    tasks: Vec<JoinHandle<()>>,
}

fn tls_config(
    tls: &TlsMaterial,
    client_ca: Option<&str>,
) -> Result<rustls::ServerConfig, SimError> {
    let err = |e: &dyn std::fmt::Display| SimError::Tls(e.to_string());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| err(&e))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).map_err(|e| err(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| err(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| err(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl SimServer {
    /// Starts listening and the controllers; returns once the address is bound.
    pub async fn start(opts: SimOptions) -> Result<SimServer, SimError> {
        Self::start_with_store(opts, Store::new()).await
    }

    /// As [`SimServer::start`], serving an existing store.
    pub async fn start_with_store(opts: SimOptions, store: Store) -> Result<SimServer, SimError> {
        let listener = TcpListener::bind(opts.bind)
            .await
            .map_err(|e| SimError::Listen(opts.bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Listen(opts.bind, e))?;
        let acceptor = match &opts.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(
                t,
                opts.client_ca_pem.as_deref(),
            )?))),
            None => None,
        };
        let auth = Arc::new(Auth {
            tokens: opts.tokens.clone(),
            required: opts.tls.is_some(),
        });
        let faults = Arc::new(crate::faults::Injector::new(opts.faults.clone()));
        let app = App {
            store: store.clone(),
            auth,
            addr: addr.to_string(),
            faults: faults.clone(),
        };
        let cluster = Cluster::new(store, opts.time_scale).with_ca(opts.client_ca_pem.clone());
        let mut tasks = Vec::new();
        let mut all: Vec<Arc<dyn Controller>> = Vec::new();
        if opts.builtin_controllers {
            all.extend(controllers::builtin_controllers());
        }
        all.extend(opts.controllers);
        tasks.extend(controllers::run(&cluster, all));
        tasks.push(tokio::spawn(accept_loop(listener, acceptor, app)));
        Ok(SimServer {
            addr,
            tls: opts.tls.is_some(),
            faults,
            cluster,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>` (or `http://` without TLS).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// How many requests were answered with an injected fault so far.
    pub fn faults_injected(&self) -> u64 {
        self.faults.injected()
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn store(&self) -> &Store {
        self.cluster.store()
    }

    /// Registers a Ready Node.
    pub fn add_node(&self, node: &NodeSpec) -> Result<serde_json::Value, crate::ApiError> {
        self.cluster.add_node(node)
    }

    /// Marks a Node's kubelet as gone (see [`Cluster::node_lost`]).
    pub fn node_lost(&self, name: &str) -> Result<(), crate::ApiError> {
        self.cluster.node_lost(name)
    }

    /// Adds a controller to the running cluster.
    pub fn add_controller(&mut self, c: Arc<dyn Controller>) {
        self.tasks.extend(controllers::run(&self.cluster, vec![c]));
    }

    /// Stops serving and the controllers.
    pub fn stop(self) {}
}

impl Drop for SimServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, acceptor: Option<tokio_rustls::TlsAcceptor>, app: App) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acc) => {
                    let Ok(tls) = acc.accept(stream).await else {
                        return;
                    };
                    let verified = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    serve(TokioIo::new(tls), app, verified).await;
                }
                None => serve(TokioIo::new(stream), app, false).await,
            }
        });
    }
}

async fn serve<I>(io: I, app: App, verified: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let mut req = req.map(Body::new);
            if verified {
                req.extensions_mut().insert(ClientCertVerified);
            }
            Ok::<_, std::convert::Infallible>(http::handle(app, req).await)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, svc)
        .await;
}
