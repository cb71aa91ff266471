//! Controllers that run inside the simulated cluster: the [`Controller`] plug-in trait, the
//! [`Cluster`] handle they act through (the same store the API serves, without HTTP), the
//! runner that feeds them events and ticks at the lab's time scale, and the built-in
//! controllers that stand in for kube-controller-manager and KWOK (see [`builtin`]).

pub mod builtin;
pub mod replicas;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, Event, PatchType, Store, WriteOptions};
use crate::types::ResourceType;

pub use builtin::{builtin_controllers, evict};

/// A simulated controller or operator. It is called for every change in the store (after the
/// change is committed) and every [`Controller::period`] of simulated time; it reads and writes
/// objects through the [`Cluster`]. Errors are the controller's to handle (log, retry on the
/// next tick): nothing it returns stops the cluster.
#[async_trait]
pub trait Controller: Send + Sync + 'static {
    /// A name for logs and the default field manager.
    fn name(&self) -> &str;

    /// Simulated time between ticks (scaled by the lab's `--time-scale`).
    fn period(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// One committed change (ADDED, MODIFIED, DELETED) of any object.
    async fn on_event(&self, _cluster: &Cluster, _event: &Event) {}

    /// Called every period, and once at start.
    async fn tick(&self, _cluster: &Cluster) {}
}

/// A controller's view of the cluster: typed by apiVersion and kind, no HTTP, no auth.
#[derive(Clone)]
pub struct Cluster {
    store: Store,
    /// The time scale's bits (an f64), shared by every copy: the lab may change its pace
    /// while it runs (`brick lab bench` sets up fast, then measures at the real pace).
    time_scale: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ca_pem: Option<String>,
}

impl Cluster {
    pub fn new(store: Store, time_scale: f64) -> Cluster {
        Cluster {
            store,
            time_scale: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
                time_scale.to_bits(),
            )),
            ca_pem: None,
        }
    }

    pub fn with_ca(mut self, ca_pem: Option<String>) -> Cluster {
        self.ca_pem = ca_pem;
        self
    }

    /// The cluster CA (PEM) published in every namespace's `kube-root-ca.crt`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The lab's time scale (1.0: realistic; 0.01: a hundred times faster).
    pub fn time_scale(&self) -> f64 {
        f64::from_bits(self.time_scale.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Changes the pace from now on (for every copy of this cluster and its controllers).
    pub fn set_time_scale(&self, time_scale: f64) {
        self.time_scale
            .store(time_scale.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Real time for a simulated duration.
    pub fn scaled(&self, simulated: Duration) -> Duration {
        simulated.mul_f64(self.time_scale().max(0.0))
    }

    /// Sleeps for a simulated duration.
    pub async fn sleep(&self, simulated: Duration) {
        tokio::time::sleep(self.scaled(simulated)).await
    }

    fn rt(&self, api_version: &str, kind: &str) -> Result<ResourceType, ApiError> {
        self.store.kind(api_version, kind).ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("the server doesn't have a resource type for {api_version} {kind}"),
            )
        })
    }

    fn rt_of(&self, obj: &Value) -> Result<ResourceType, ApiError> {
        self.rt(
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )
    }

    /// Serves `backend` as the endpoints of port `port` (by name) of Service `ns/service`, for
    /// the API server's service proxy (`/api/v1/namespaces/<ns>/services/<service>:<port>/proxy/…`):
    /// a simulated pod's HTTP answer, e.g. an operator's metrics. `None` takes it away (the
    /// proxy then answers 503, no endpoints). The Service object itself is the caller's.
    pub fn serve(
        &self,
        ns: &str,
        service: &str,
        port: &str,
        backend: Option<crate::store::Backend>,
    ) {
        self.store.set_backend(ns, service, port, backend);
    }

    /// Whether a kind is served (a CRD for it is established).
    pub fn serves(&self, api_version: &str, kind: &str) -> bool {
        self.store.kind(api_version, kind).is_some()
    }

    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let rt = self.rt(api_version, kind).ok()?;
        self.store.get(&rt, ns, name).ok()
    }

    /// Objects of a kind, in one namespace or (None) all, optionally by label selector.
    pub fn list(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        label_selector: &str,
    ) -> Vec<Value> {
        let Ok(rt) = self.rt(api_version, kind) else {
            return Vec::new();
        };
        let labels = LabelSelector::parse(label_selector).unwrap_or_default();
        self.store
            .list(&rt, ns, &labels, &FieldSelector::default())
            .0
    }

    pub fn create(&self, manager: &str, obj: Value) -> Result<Value, ApiError> {
        let rt = self.rt_of(&obj)?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        self.store.create(&rt, &ns, obj, &opts(manager, false))
    }

    /// Server-side apply of `obj` by `manager` (forced: controllers own what they write).
    pub fn apply(&self, manager: &str, obj: Value) -> Result<Value, ApiError> {
        self.apply_to(manager, obj, None)
    }

    /// Server-side apply to the status subresource.
    pub fn apply_status(&self, manager: &str, obj: Value) -> Result<Value, ApiError> {
        self.apply_to(manager, obj, Some("status"))
    }

    fn apply_to(&self, manager: &str, obj: Value, sub: Option<&str>) -> Result<Value, ApiError> {
        let rt = self.rt_of(&obj)?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        self.store
            .patch(
                &rt,
                &ns,
                &name,
                PatchType::Apply,
                &obj,
                sub,
                &opts(manager, true),
            )
            .map(|(v, _)| v)
    }

    /// A JSON merge patch of the object (or, with `status`, of its status subresource).
    #[allow(clippy::too_many_arguments)]
    pub fn merge_patch(
        &self,
        manager: &str,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        patch: Value,
        status: bool,
    ) -> Result<Value, ApiError> {
        let rt = self.rt(api_version, kind)?;
        let sub = status.then_some("status");
        self.store
            .patch(
                &rt,
                ns,
                name,
                PatchType::Merge,
                &patch,
                sub,
                &opts(manager, false),
            )
            .map(|(v, _)| v)
    }

    /// Replaces the object (PUT semantics, resourceVersion checked when set).
    pub fn update(&self, manager: &str, obj: Value) -> Result<Value, ApiError> {
        self.update_sub(manager, obj, None)
    }

    pub fn update_status(&self, manager: &str, obj: Value) -> Result<Value, ApiError> {
        self.update_sub(manager, obj, Some("status"))
    }

    pub(crate) fn update_sub(
        &self,
        manager: &str,
        obj: Value,
        sub: Option<&str>,
    ) -> Result<Value, ApiError> {
        let rt = self.rt_of(&obj)?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        self.store
            .update(&rt, &ns, &name, obj, sub, &opts(manager, false))
    }

    /// Deletes an object (background propagation); Ok when it is already gone.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let rt = self.rt(api_version, kind)?;
        match self.store.delete(&rt, ns, name, &DeleteOptions::default()) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What the node lifecycle controller does once a kubelet stops posting status (its
    /// machine powered off or released): every condition of the Node goes `Unknown` with
    /// reason `NodeStatusUnknown`, and the `node.kubernetes.io/unreachable` taints are added.
    /// Ok when the Node does not exist.
    pub fn node_lost(&self, name: &str) -> Result<(), ApiError> {
        let Some(mut node) = self.get("v1", "Node", "", name) else {
            return Ok(());
        };
        let now = crate::store::now();
        for c in node["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            c["status"] = json!("Unknown");
            c["reason"] = json!("NodeStatusUnknown");
            c["message"] = json!("Kubelet stopped posting node status.");
            c["lastTransitionTime"] = json!(now);
        }
        self.update_status("node-controller", node)?;
        let Some(mut node) = self.get("v1", "Node", "", name) else {
            return Ok(());
        };
        let mut taints = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for effect in ["NoSchedule", "NoExecute"] {
            if !taints
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == effect)
            {
                taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": now}));
            }
        }
        node["spec"]["taints"] = json!(taints);
        self.update("node-controller", node).map(|_| ())
    }

    /// Registers a Node that is Ready, with the machine's capacity.
    pub fn add_node(&self, node: &NodeSpec) -> Result<Value, ApiError> {
        let mut labels = json!({
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
        });
        for (k, v) in &node.labels {
            labels[k] = json!(v);
        }
        let mut annotations = serde_json::Map::new();
        if !node.volumes.is_empty() {
            let volumes: serde_json::Map<String, Value> = node
                .volumes
                .iter()
                .map(|(path, bytes)| (path.clone(), json!(bytes)))
                .collect();
            annotations.insert(
                VOLUMES_ANNOTATION.into(),
                json!(Value::Object(volumes).to_string()),
            );
        }
        let now = crate::store::now();
        let capacity = json!({"cpu": node.cpu.to_string(), "memory": format!("{}Ki", node.memory_mib * 1024),
            "pods": "110", "ephemeral-storage": format!("{}Ki", node.disk_gib * 1024 * 1024)});
        let cond = |t: &str, s: &str, r: &str, m: &str| {
            json!({"type": t, "status": s,
            "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": r, "message": m})
        };
        let mut addresses = vec![json!({"type": "Hostname", "address": node.name})];
        if let Some(ip) = &node.address {
            addresses.insert(0, json!({"type": "InternalIP", "address": ip}));
        }
        let obj = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": labels, "annotations": annotations},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": capacity,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                "kubeletVersion": node.kubelet_version, "kubeProxyVersion": node.kubelet_version,
                "containerRuntimeVersion": "containerd://1.7.27", "osImage": "Ubuntu 24.04 LTS",
                "kernelVersion": "6.8.0-brick-lab", "machineID": "", "systemUUID": "", "bootID": ""},
        }});
        match self.get("v1", "Node", "", &node.name) {
            None => self.create("kubelet", obj),
            Some(existing) => self.reregister(existing, obj),
        }
    }

    /// A kubelet registering a Node that already exists (its machine deployed again under the
    /// same name): as the real kubelet does on AlreadyExists, it takes the existing Node, sets
    /// its own labels and posts its status (Ready); the node lifecycle controller then removes
    /// the `unreachable` and `not-ready` taints it had added. Other taints, `unschedulable`
    /// and labels the kubelet does not own stay.
    fn reregister(&self, mut existing: Value, fresh: Value) -> Result<Value, ApiError> {
        for (k, v) in fresh["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
        {
            existing["metadata"]["labels"][k] = v.clone();
        }
        for (k, v) in fresh["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            existing["metadata"]["annotations"][k] = v.clone();
        }
        let labels = existing["metadata"]["labels"].clone();
        let annotations = existing["metadata"]["annotations"].clone();
        existing["status"] = fresh["status"].clone();
        let mut node = self.update_status("kubelet", existing)?;
        node["metadata"]["labels"] = labels;
        node["metadata"]["annotations"] = annotations;
        if let Some(taints) = node["spec"]["taints"].as_array() {
            let kept: Vec<Value> = taints
                .iter()
                .filter(|t| {
                    !matches!(
                        t["key"].as_str(),
                        Some("node.kubernetes.io/unreachable" | "node.kubernetes.io/not-ready")
                    )
                })
                .cloned()
                .collect();
            node["spec"]["taints"] = json!(kept);
        }
        self.update("node-controller", node)
    }
}

fn opts(manager: &str, force: bool) -> WriteOptions {
    WriteOptions {
        dry_run: false,
        field_manager: Some(manager.to_string()),
        field_validation: Some("Ignore".into()),
        force,
        user_agent: None,
    }
}

/// The Node annotation that lists the lab machine's logical volumes: a JSON object of path →
/// size in bytes, e.g. `{"/dev/disk/by-dname/vgroot-ceph": 53687091200}`. Only the lab sets it;
/// a real kubelet knows nothing of it.
pub const VOLUMES_ANNOTATION: &str = "lab.brick.dev/volumes";

/// A Node to register (what the lab knows of a machine).
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    pub cpu: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub address: Option<String>,
    pub labels: Vec<(String, String)>,
    /// The machine's logical volumes (path as the machine names it, size in bytes), which the
    /// Node carries in annotation [`VOLUMES_ANNOTATION`] for simulated operators (Rook's sizes
    /// its OSDs from them).
    pub volumes: Vec<(String, u64)>,
    pub kubelet_version: String,
}

impl NodeSpec {
    pub fn new(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            cpu: 4,
            memory_mib: 8192,
            disk_gib: 100,
            address: None,
            labels: Vec::new(),
            volumes: Vec::new(),
            kubelet_version: "v1.32.3".into(),
        }
    }
}

/// Runs controllers until the returned handles are aborted (the server does it on stop).
pub fn run(
    cluster: &Cluster,
    controllers: Vec<Arc<dyn Controller>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    controllers
        .into_iter()
        .map(|c| {
            let cluster = cluster.clone();
            let mut rx = cluster.store().subscribe();
            tokio::spawn(async move {
                let period = cluster.scaled(c.period()).max(Duration::from_millis(5));
                let mut ticker = tokio::time::interval(period);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = ticker.tick() => c.tick(&cluster).await,
                        ev = rx.recv() => match ev {
                            Ok(e) => c.on_event(&cluster, &e).await,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => c.tick(&cluster).await,
                            Err(_) => return,
                        },
                    }
                }
            })
        })
        .collect()
}
