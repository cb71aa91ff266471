//! The lab's MicroK8s clusters: what a lab machine deployed with a `microk8s_cluster`
//! cloud-init would do. The MAAS simulator tells [`Clusters`] (its machine hook) when a machine
//! is deployed; the machine's launch configuration decides the rest, as MicroK8s would:
//! - the bootstrap node, after a while (snap install, `refresh-certs`), serves the lab's
//!   Kubernetes API (`brick-k8s-sim`) on `<its address>:16443`, TLS with a certificate signed by
//!   the cluster's CA, admitting client certificates of that CA (brick's admin certificate), and
//!   registers its own Node;
//! - every other node, after its own delay, joins through the cluster agent at the address its
//!   join URL names: with the right token its Node registers (the machine's CPU, memory and
//!   disks) and becomes Ready; with a wrong one it keeps retrying every 5 s, as MicroK8s' agent
//!   does, and never appears;
//! - a released machine's kubelet stops: after the node monitor grace period its Node goes
//!   NotReady (conditions `Unknown`, the `unreachable` taints), as kube-controller-manager does;
//!   deployed again, its kubelet re-registers the Node, which is Ready again (taints gone).
//!
//! The bootstrap node also runs its cluster agent on `<its address>:25000` (the lab's
//! [`microk8s_lab::Agent`]): the datastore's voters (the bootstrap node and every control-plane
//! joiner) and the `dqlite/remove` endpoint `microk8s_node`'s destroy calls for a control-plane
//! node; [`Labs::datastore_members`] lists the voters.
//!
//! Delays follow the lab's time scale. The machines have loopback addresses (`127.0.10.N`) so
//! that an API server can listen on its machine's own address. The MAAS lab's faults
//! (`--error-rate`, `--latency-ms`) are injected into the clusters' Kubernetes APIs too.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brick_k8s_sim::{NodeSpec, SimOptions as ApiOptions, SimServer, TlsMaterial};
use tokio::sync::mpsc;

use crate::registry::maas_lab::SimOptions;
use crate::registry::maas_lab::{DeployedMachine, Hook, MachineHook};
use crate::registry::microk8s_lab::{self, Launch};

/// MicroK8s' API server port.
pub const API_PORT: u16 = 16443;
/// Realistic time from deployed to a formed first node (snap install, wait-ready,
/// refresh-certs, wait-ready).
const BOOTSTRAP: Duration = Duration::from_secs(150);
/// Realistic time from deployed to a joiner's first join attempt (snap install).
const JOIN: Duration = Duration::from_secs(90);
/// kube-controller-manager's node monitor grace period: a Node whose kubelet is silent this
/// long goes NotReady (status Unknown).
const NODE_GRACE: Duration = Duration::from_secs(40);
/// MicroK8s' cluster agent retries a join every 5 s.
const JOIN_RETRY: Duration = Duration::from_secs(5);

enum Msg {
    Deployed(DeployedMachine),
    Released(String),
}

/// The machine hook: hands each event to the lab's task.
struct Clusters {
    tx: mpsc::UnboundedSender<Msg>,
}

impl MachineHook for Clusters {
    fn deployed(&self, machine: &DeployedMachine) {
        let _ = self.tx.send(Msg::Deployed(machine.clone()));
    }
    fn released(&self, hostname: &str) {
        let _ = self.tx.send(Msg::Released(hostname.to_string()));
    }
}

/// A formed cluster: its API server, the token its agent accepts and the agent.
struct Formed {
    bootstrap: String,
    token: String,
    server: Arc<SimServer>,
    agent: Option<microk8s_lab::Agent>,
}

#[derive(Default)]
struct State {
    /// By the bootstrap node's address.
    clusters: HashMap<String, Formed>,
    /// Each machine's deployment generation: a release ends what a deployment started.
    generation: HashMap<String, u64>,
    /// The generation whose kubelet last registered (or re-registered) each machine's Node.
    registered: HashMap<String, u64>,
}

/// The lab's clusters, to change their pace while they run.
#[derive(Clone)]
pub struct Labs {
    state: Arc<Mutex<State>>,
    time_scale: Arc<std::sync::atomic::AtomicU64>,
    /// The MAAS lab's error rate and latency, injected into the clusters' Kubernetes APIs too.
    faults: brick_k8s_sim::Faults,
}

impl Labs {
    /// The pace of MicroK8s' steps and of the clusters' Kubernetes APIs (their simulated
    /// operators) from now on, formed clusters included. The MAAS simulator has its own
    /// (`World::time_scale`).
    pub fn set_time_scale(&self, time_scale: f64) {
        self.time_scale
            .store(time_scale.to_bits(), std::sync::atomic::Ordering::Relaxed);
        for c in self.state.lock().expect("lab state").clusters.values() {
            c.server.cluster().set_time_scale(time_scale);
        }
    }

    /// An object of the lab's formed clusters (the first one that has it; `ns` empty for a
    /// cluster-scoped kind), for tests and the demo to look at what the kubelets and the
    /// simulated operators did.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let servers: Vec<Arc<SimServer>> = {
            let s = self.state.lock().expect("lab state");
            s.clusters.values().map(|c| c.server.clone()).collect()
        };
        servers
            .iter()
            .find_map(|server| server.cluster().get(api_version, kind, ns, name))
    }

    /// How many times each object of a kind (`namespace/name`) was created in the lab's formed
    /// clusters, deleted ones included: a client that re-runs after a crash creates nothing
    /// twice.
    pub fn creations(&self, api_version: &str, kind: &str) -> BTreeMap<String, u32> {
        let servers: Vec<Arc<SimServer>> = {
            let s = self.state.lock().expect("lab state");
            s.clusters.values().map(|c| c.server.clone()).collect()
        };
        let mut out = BTreeMap::new();
        for server in servers {
            let store = server.store();
            if let Some(rt) = store.kind(api_version, kind) {
                for (ns, name, n) in store.creations(&rt) {
                    *out.entry(format!("{ns}/{name}")).or_default() += n;
                }
            }
        }
        out
    }

    /// The Node `name` as the lab's formed clusters see it.
    pub fn node(&self, name: &str) -> Option<serde_json::Value> {
        self.object("v1", "Node", "", name)
    }

    /// The dqlite voters (`<address>:19001`) of the cluster whose first node has `address`;
    /// `None` while no cluster is formed there.
    pub fn datastore_members(&self, address: &str) -> Option<Vec<String>> {
        let s = self.state.lock().expect("lab state");
        let c = s.clusters.get(address)?;
        Some(c.agent.as_ref().map(|a| a.members()).unwrap_or_default())
    }

    /// How many requests the clusters' Kubernetes APIs answered with an injected fault.
    pub fn faults_injected(&self) -> u64 {
        self.state
            .lock()
            .expect("lab state")
            .clusters
            .values()
            .map(|c| c.server.faults_injected())
            .sum()
    }

    fn time_scale(&self) -> f64 {
        f64::from_bits(self.time_scale.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Makes the MAAS lab form MicroK8s clusters: machines get loopback addresses and a hook that
/// plays MicroK8s on them. Must be called inside a tokio runtime (it starts the lab's task).
pub fn with_clusters(opts: &mut SimOptions) -> Labs {
    let (tx, rx) = mpsc::unbounded_channel();
    opts.machine_hook = Some(Hook(Arc::new(Clusters { tx })));
    opts.loopback_network = true;

    let labs = Labs {
        state: Arc::new(Mutex::new(State::default())),
        time_scale: Arc::new(std::sync::atomic::AtomicU64::new(opts.time_scale.to_bits())),
        faults: brick_k8s_sim::Faults {
            error_rate: opts.error_rate,
            latency: opts.latency,
            seed: opts.seed,
        },
    };
    tokio::spawn(run(rx, labs.clone()));
    labs
}

/// A loopback network (`127.X.Y`, the first three octets) that no other lab on this host is
/// using: the API port is free on its first addresses. Tests that run labs side by side (in one
/// process or several) give each lab its own through `SimOptions::network`, and write the
/// addresses of their configuration from it.
pub fn free_loopback_network() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id();
    loop {
        let n = base
            .wrapping_mul(7919)
            .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let (x, y) = (11 + (n / 250) % 240, 1 + n % 250);
        let net = format!("127.{x}.{y}");
        let free = (10..16)
            .all(|host| std::net::TcpListener::bind(format!("{net}.{host}:{API_PORT}")).is_ok());
        if free {
            return net;
        }
    }
}

fn scaled(d: Duration, time_scale: f64) -> Duration {
    d.mul_f64(time_scale.max(0.0))
}

async fn run(mut rx: mpsc::UnboundedReceiver<Msg>, labs: Labs) {
    let state = labs.state.clone();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Deployed(m) => {
                let generation = {
                    let mut s = state.lock().expect("lab state");
                    let g = s.generation.entry(m.hostname.clone()).or_default();
                    *g += 1;
                    *g
                };
                let Some(launch) = std::str::from_utf8(&m.user_data)
                    .ok()
                    .and_then(microk8s_lab::read_launch)
                else {
                    continue;
                };
                tokio::spawn(play(labs.clone(), m, launch, generation));
            }
            Msg::Released(hostname) => {
                let (servers, released) = {
                    let mut s = state.lock().expect("lab state");
                    let g = s.generation.entry(hostname.clone()).or_default();
                    *g += 1;
                    let released = *g;
                    s.clusters.retain(|_, c| c.bootstrap != hostname);
                    let servers: Vec<Arc<SimServer>> =
                        s.clusters.values().map(|c| c.server.clone()).collect();
                    (servers, released)
                };
                // Its kubelet stops posting status: after the node monitor's grace period
                // (40 s) the Node goes NotReady (Unknown) in every cluster it had joined,
                // unless the machine was deployed again and its new kubelet has registered
                // the Node since (then the Node is Ready, and stays so).
                let grace = scaled(NODE_GRACE, labs.time_scale());
                let state = state.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let silent = {
                        let s = state.lock().expect("lab state");
                        s.registered.get(&hostname).is_none_or(|&r| r < released)
                    };
                    if silent {
                        for server in servers {
                            let _ = server.node_lost(&hostname);
                        }
                    }
                });
            }
        }
    }
}

fn current(state: &Mutex<State>, host: &str, generation: u64) -> bool {
    state
        .lock()
        .expect("lab state")
        .generation
        .get(host)
        .copied()
        == Some(generation)
}

/// Records that this generation's kubelet registered the machine's Node.
fn registered(state: &Mutex<State>, host: &str, generation: u64) {
    state
        .lock()
        .expect("lab state")
        .registered
        .insert(host.to_string(), generation);
}

fn node_spec(m: &DeployedMachine, control_plane: bool) -> NodeSpec {
    let mut spec = NodeSpec::new(&m.hostname);
    spec.cpu = m.cpu_count;
    spec.memory_mib = m.memory_mib;
    spec.disk_gib = m.disks.iter().sum::<u64>() / (1 << 30);
    // Its logical volumes, for the simulated Rook operator's OSDs.
    spec.volumes = m.volumes.clone();
    spec.address = m.addresses.first().cloned();
    // MicroK8s labels its nodes by role.
    spec.labels = vec![if control_plane {
        (
            "node.kubernetes.io/microk8s-controlplane".into(),
            "microk8s-controlplane".into(),
        )
    } else {
        (
            "node.kubernetes.io/microk8s-worker".into(),
            "microk8s-worker".into(),
        )
    }];
    spec
}

/// One machine's MicroK8s, from deployed to a registered Node (or for ever retrying).
async fn play(labs: Labs, m: DeployedMachine, launch: Launch, generation: u64) {
    let state = labs.state.clone();
    match launch {
        Launch::Bootstrap {
            ca_certificate,
            ca_private_key,
            token,
            sans,
            agent_token,
        } => {
            tokio::time::sleep(scaled(BOOTSTRAP, labs.time_scale())).await;
            let Some(address) = m.addresses.first().cloned() else {
                return;
            };
            if !current(&state, &m.hostname, generation) {
                return;
            }
            let mut names = vec![address.clone(), m.hostname.clone()];
            names.extend(sans);
            let Ok((cert_pem, key_pem)) =
                microk8s_lab::serving_certificate(&ca_certificate, &ca_private_key, &names)
            else {
                return;
            };
            let Ok(bind) = format!("{address}:{API_PORT}").parse() else {
                return;
            };
            let server = match SimServer::start(ApiOptions {
                bind,
                tls: Some(TlsMaterial {
                    cert_pem: cert_pem.clone(),
                    key_pem: key_pem.clone(),
                }),
                client_ca_pem: Some(ca_certificate),
                time_scale: labs.time_scale(),
                controllers: crate::registry::lab_k8s_controllers(),
                faults: labs.faults.clone(),
                ..ApiOptions::default()
            })
            .await
            {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    brick_provider_api::notice::notice(
                        "lab",
                        &format!(
                            "{}: the lab's Kubernetes API could not start: {e}",
                            m.hostname
                        ),
                    );
                    return;
                }
            };
            let _ = server.add_node(&node_spec(&m, true));
            registered(&state, &m.hostname, generation);
            // Its cluster agent, with the same certificate (MicroK8s serves both with the
            // node's server certificate).
            let agent = match format!("{address}:{}", microk8s_lab::AGENT_PORT).parse() {
                Ok(bind) => {
                    microk8s_lab::Agent::start(bind, &cert_pem, &key_pem, agent_token, &address)
                        .await
                        .map_err(|e| {
                            brick_provider_api::notice::notice(
                                "lab",
                                &format!(
                                    "{}: the lab's cluster agent could not start: {e}",
                                    m.hostname
                                ),
                            )
                        })
                        .ok()
                }
                Err(_) => None,
            };
            state.lock().expect("lab state").clusters.insert(
                address,
                Formed {
                    bootstrap: m.hostname.clone(),
                    token,
                    server,
                    agent,
                },
            );
        }
        Launch::Join {
            address,
            token,
            worker,
        } => {
            tokio::time::sleep(scaled(JOIN, labs.time_scale())).await;
            loop {
                if !current(&state, &m.hostname, generation) {
                    return;
                }
                let server = {
                    let s = state.lock().expect("lab state");
                    let formed = s.clusters.get(&address).filter(|c| c.token == token);
                    // A control-plane joiner becomes a voter of the datastore.
                    if let (Some(Some(agent)), false, Some(own)) =
                        (formed.map(|c| &c.agent), worker, m.addresses.first())
                    {
                        agent.join(own);
                    }
                    formed.map(|c| c.server.clone())
                };
                if let Some(server) = server {
                    let _ = server.add_node(&node_spec(&m, !worker));
                    registered(&state, &m.hostname, generation);
                    return;
                }
                tokio::time::sleep(
                    scaled(JOIN_RETRY, labs.time_scale()).max(Duration::from_millis(5)),
                )
                .await;
            }
        }
    }
}
