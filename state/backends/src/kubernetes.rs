//! The `kubernetes` backend through `kube`: a workspace's state in Secrets of a namespace and
//! its lock a `coordination.k8s.io/v1` Lease.
//!
//! The head Secret `brickstate-<workspace>-<secret_suffix>` holds the document in its `state`
//! key when it fits one Secret (under 768 KiB; the API server refuses Secrets over 1 MiB,
//! terraform #29679); a larger one is split into chunk Secrets
//! `brickstate-<workspace>-<suffix>-<generation>-<n>` written first, and the head then holds
//! the manifest (`chunks`: generation, count, SHA-256). The head is replaced with its
//! `resourceVersion` as precondition, so switching to the new generation is one atomic
//! compare-and-swap; chunks of other generations are removed afterwards. A reader that finds
//! a chunk missing (removed under it) reads the head again.
//!
//! The Lease `brickstate-lock-<workspace>-<suffix>` names its holder (`holderIdentity`, and
//! the whole lock record in the annotation `brick.dev/lock`) and is renewed every 20 s
//! while held; one not renewed for `leaseDurationSeconds` (60) has expired and is taken over
//! by the next brick (replace with its `resourceVersion`, so of two only one wins). A crashed
//! holder's lock never sticks.
//!
//! The `labels` argument's labels go on every Secret and the Lease, beside brick's own. A
//! workspace name that would make an invalid object name (capitals, `_`) is refused, as
//! Terraform's kubernetes backend refuses it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use sha2::{Digest, Sha256};

use crate::{Backend, BackendError, HeldLock, LockInfo, Snapshot, rt};

const CHUNK: usize = 768 * 1024;
const LEASE_SECONDS: i32 = 60;
const RENEW_EVERY: Duration = Duration::from_secs(20);
const LOCK_ANNOTATION: &str = "brick.dev/lock";

#[derive(Clone)]
pub(crate) struct Kubernetes {
    client: Client,
    namespace: String,
    suffix: String,
    /// The `labels` argument: put on every Secret and the Lease, beside brick's own.
    extra_labels: BTreeMap<String, String>,
}

/// Whether `name` is a DNS-1123 subdomain, what the API server wants of a Secret's or a
/// Lease's name: dot-separated parts of lowercase letters, digits and '-', each starting and
/// ending with a letter or digit, 253 characters at most.
fn dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && !part.starts_with('-')
                && !part.ends_with('-')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The longest workspace name: its apply record's workspace (`<name>.unfinished-apply`) is a
/// label value, 63 characters at most.
const MAX_WORKSPACE: usize = 63 - crate::UNFINISHED_SUFFIX.len();

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    generation: String,
    count: usize,
    sha256: String,
}

fn api_err(action: &'static str, what: &str) -> impl Fn(kube::Error) -> BackendError {
    let what = what.to_string();
    move |e| BackendError::Store {
        action,
        what: what.clone(),
        detail: match &e {
            kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
            other => other.to_string(),
        },
    }
}

fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Kubernetes {
    pub(crate) fn new(s: &BTreeMap<String, String>) -> Result<Kubernetes, BackendError> {
        // `labels = { team = "infra" }` arrives as `labels.team`.
        let (labels, args): (BTreeMap<_, _>, BTreeMap<_, _>) = s
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| k.starts_with("labels."));
        crate::only(
            "kubernetes",
            &args,
            &[
                "secret_suffix",
                "namespace",
                "config_path",
                "config_context",
            ],
        )?;
        let extra_labels: BTreeMap<String, String> = labels
            .into_iter()
            .map(|(k, v)| (k["labels.".len()..].to_string(), v))
            .collect();
        if let Some(k) = extra_labels
            .keys()
            .find(|k| k.starts_with("brick.dev/") || *k == "app.kubernetes.io/managed-by")
        {
            return Err(BackendError::Config(format!(
                "labels: {k:?} is one of the labels brick sets itself to find its Secrets"
            )));
        }
        let suffix = s.get("secret_suffix").cloned().ok_or_else(|| {
            BackendError::Config("the kubernetes backend needs \"secret_suffix\"".into())
        })?;
        let namespace = s
            .get("namespace")
            .cloned()
            .unwrap_or_else(|| "default".into());
        let path = s.get("config_path").cloned();
        let context = s.get("config_context").cloned();
        let client = rt::run(async move {
            let config = match path {
                Some(p) => {
                    let kc = Kubeconfig::read_from(&p)
                        .map_err(|e| BackendError::Config(format!("config_path {p}: {e}")))?;
                    let opts = KubeConfigOptions {
                        context,
                        ..KubeConfigOptions::default()
                    };
                    Config::from_custom_kubeconfig(kc, &opts)
                        .await
                        .map_err(|e| BackendError::Config(format!("config_path {p}: {e}")))?
                }
                None => Config::infer()
                    .await
                    .map_err(|e| BackendError::Config(format!("no kubeconfig: {e}")))?,
            };
            Client::try_from(config).map_err(|e| BackendError::Config(format!("kubernetes: {e}")))
        })?;
        let k = Kubernetes {
            client,
            namespace,
            suffix,
            extra_labels,
        };
        k.check_workspace("default").map_err(|e| match e {
            BackendError::WorkspaceName { detail, .. } => {
                BackendError::Config(format!("secret_suffix: {detail}"))
            }
            other => other,
        })?;
        Ok(k)
    }

    fn head(&self, workspace: &str) -> String {
        format!("brickstate-{workspace}-{}", self.suffix)
    }

    fn lease(&self, workspace: &str) -> String {
        format!("brickstate-lock-{workspace}-{}", self.suffix)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn labels(&self, workspace: &str, role: &str) -> BTreeMap<String, String> {
        let mut labels = self.extra_labels.clone();
        labels.extend([
            ("app.kubernetes.io/managed-by".into(), "brick".into()),
            ("brick.dev/state-suffix".into(), self.suffix.clone()),
            ("brick.dev/workspace".into(), workspace.into()),
            ("brick.dev/role".into(), role.into()),
        ]);
        labels
    }

    fn secret(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        key: &str,
        data: Vec<u8>,
    ) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(key.to_string(), ByteString(data))])),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    async fn read_once(
        &self,
        workspace: &str,
    ) -> Result<Option<Result<Snapshot, ()>>, BackendError> {
        let what = self.describe(workspace);
        let Some(head) = self
            .secrets()
            .get_opt(&self.head(workspace))
            .await
            .map_err(api_err("read", &what))?
        else {
            return Ok(None);
        };
        let version = head.metadata.resource_version.clone().unwrap_or_default();
        let data = head.data.unwrap_or_default();
        if let Some(b) = data.get("state") {
            return Ok(Some(Ok(Snapshot {
                bytes: b.0.clone(),
                version,
            })));
        }
        let Some(m) = data.get("chunks") else {
            return Err(BackendError::Store {
                action: "read",
                what,
                detail: "the head Secret has neither `state` nor `chunks`".into(),
            });
        };
        let m: Manifest = serde_json::from_slice(&m.0).map_err(|e| BackendError::Store {
            action: "read",
            what: what.clone(),
            detail: format!("the chunk manifest is damaged ({e})"),
        })?;
        let mut bytes = Vec::new();
        for i in 0..m.count {
            let name = format!("{}-{}-{i}", self.head(workspace), m.generation);
            match self
                .secrets()
                .get_opt(&name)
                .await
                .map_err(api_err("read", &what))?
            {
                Some(s) => bytes.extend(
                    s.data
                        .and_then(|mut d| d.remove("chunk"))
                        .map(|b| b.0)
                        .unwrap_or_default(),
                ),
                // Replaced by a newer generation meanwhile.
                None => return Ok(Some(Err(()))),
            }
        }
        if hex(&Sha256::digest(&bytes)) != m.sha256 {
            return Ok(Some(Err(())));
        }
        Ok(Some(Ok(Snapshot { bytes, version })))
    }

    async fn read_async(&self, workspace: &str) -> Result<Option<Snapshot>, BackendError> {
        for _ in 0..5 {
            match self.read_once(workspace).await? {
                None => return Ok(None),
                Some(Ok(s)) => return Ok(Some(s)),
                Some(Err(())) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        Err(BackendError::Store {
            action: "read",
            what: self.describe(workspace),
            detail: "its chunks kept changing, or do not match the manifest's SHA-256".into(),
        })
    }

    /// Removes the chunk Secrets of `workspace` not of generation `keep`.
    async fn remove_chunks(&self, workspace: &str, keep: Option<&str>) -> Result<(), BackendError> {
        let what = self.describe(workspace);
        let lp = ListParams::default().labels(&format!(
            "brick.dev/state-suffix={},brick.dev/workspace={workspace},brick.dev/role=chunk",
            self.suffix
        ));
        let list = self
            .secrets()
            .list(&lp)
            .await
            .map_err(api_err("list the chunks of", &what))?;
        for s in list.items {
            let generation = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("brick.dev/generation"))
                .cloned();
            if generation.as_deref() != keep
                && let Some(name) = s.metadata.name
            {
                match self.secrets().delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if code(&e) == Some(404) => {}
                    Err(e) => return Err(api_err("remove a chunk of", &what)(e)),
                }
            }
        }
        Ok(())
    }

    async fn write_async(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        expected: Option<String>,
    ) -> Result<String, BackendError> {
        let what = self.describe(workspace);
        let head_name = self.head(workspace);
        let mut generation = None;
        let head = if bytes.len() <= CHUNK {
            self.secret(&head_name, self.labels(workspace, "head"), "state", bytes)
        } else {
            let g = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            let mut count = 0;
            for (i, part) in bytes.chunks(CHUNK).enumerate() {
                let mut labels = self.labels(workspace, "chunk");
                labels.insert("brick.dev/generation".into(), g.clone());
                let s = self.secret(
                    &format!("{head_name}-{g}-{i}"),
                    labels,
                    "chunk",
                    part.to_vec(),
                );
                self.secrets()
                    .create(&PostParams::default(), &s)
                    .await
                    .map_err(api_err("write a chunk of", &what))?;
                count += 1;
            }
            let m = Manifest {
                generation: g.clone(),
                count,
                sha256: hex(&Sha256::digest(&bytes)),
            };
            generation = Some(g);
            self.secret(
                &head_name,
                self.labels(workspace, "head"),
                "chunks",
                serde_json::to_vec(&m).expect("a manifest serializes"),
            )
        };
        let result = match &expected {
            None => self.secrets().create(&PostParams::default(), &head).await,
            Some(v) => {
                let mut head = head;
                head.metadata.resource_version = Some(v.clone());
                self.secrets()
                    .replace(&head_name, &PostParams::default(), &head)
                    .await
            }
        };
        match result {
            Ok(s) => {
                // The new generation is current: the others go (best effort; a leftover
                // generation is removed by the next write).
                let _ = self.remove_chunks(workspace, generation.as_deref()).await;
                Ok(s.metadata.resource_version.unwrap_or_default())
            }
            Err(e) => {
                if let Some(g) = &generation {
                    let _ = self.remove_generation(workspace, g).await;
                }
                if matches!(code(&e), Some(409) | Some(404)) {
                    Err(BackendError::Conflict { what })
                } else {
                    Err(api_err("write", &what)(e))
                }
            }
        }
    }

    async fn remove_generation(&self, workspace: &str, g: &str) -> Result<(), BackendError> {
        let lp = ListParams::default().labels(&format!(
            "brick.dev/state-suffix={},brick.dev/workspace={workspace},brick.dev/generation={g}",
            self.suffix
        ));
        let list = self
            .secrets()
            .list(&lp)
            .await
            .map_err(api_err("list the chunks of", &self.describe(workspace)))?;
        for s in list.items {
            if let Some(n) = s.metadata.name {
                let _ = self.secrets().delete(&n, &DeleteParams::default()).await;
            }
        }
        Ok(())
    }

    fn lease_object(&self, workspace: &str, info: &LockInfo, version: Option<String>) -> Lease {
        let t = now();
        Lease {
            metadata: ObjectMeta {
                name: Some(self.lease(workspace)),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels(workspace, "lock")),
                annotations: Some(BTreeMap::from([(
                    LOCK_ANNOTATION.to_string(),
                    serde_json::to_string(info).expect("lock info serializes"),
                )])),
                resource_version: version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(format!(
                    "{}@{} pid {} ({}, lock {})",
                    info.user, info.host, info.pid, info.operation, info.id
                )),
                lease_duration_seconds: Some(LEASE_SECONDS),
                acquire_time: Some(t.clone()),
                renew_time: Some(t),
                ..LeaseSpec::default()
            }),
        }
    }

    async fn lock_async(
        &self,
        workspace: &str,
        info: LockInfo,
    ) -> Result<Box<dyn HeldLock>, BackendError> {
        let what = self.describe(workspace);
        let name = self.lease(workspace);
        for _ in 0..5 {
            match self
                .leases()
                .create(
                    &PostParams::default(),
                    &self.lease_object(workspace, &info, None),
                )
                .await
            {
                Ok(_) => return Ok(self.held(workspace, info)),
                Err(e) if code(&e) == Some(409) => {}
                Err(e) => return Err(api_err("create the lease of", &what)(e)),
            }
            let Some(current) = self
                .leases()
                .get_opt(&name)
                .await
                .map_err(api_err("read the lease of", &what))?
            else {
                continue;
            };
            let holder = lease_holder(&current, &what)?;
            let crashed_here = holder.is_stale() && holder.path == info.path;
            if !(expired(&current) || crashed_here) {
                return Err(BackendError::Locked {
                    what,
                    holder: Box::new(holder),
                });
            }
            // Expired (its holder stopped renewing it) or its holder was a process of this
            // host, in this working copy, that is gone: replace exactly that version of it.
            let replacement =
                self.lease_object(workspace, &info, current.metadata.resource_version.clone());
            match self
                .leases()
                .replace(&name, &PostParams::default(), &replacement)
                .await
            {
                Ok(_) => return Ok(self.held(workspace, info)),
                Err(e) if code(&e) == Some(409) => {}
                Err(e) => return Err(api_err("take over the lease of", &what)(e)),
            }
        }
        Err(BackendError::Store {
            action: "take the lease of",
            what,
            detail: "the lease kept changing".into(),
        })
    }

    /// A held lease, renewed every [`RENEW_EVERY`] until released.
    fn held(&self, workspace: &str, info: LockInfo) -> Box<dyn HeldLock> {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let k = self.clone();
        let ws = workspace.to_string();
        let id = info.id.clone();
        let task = rt::handle().spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RENEW_EVERY) => {}
                    _ = stopped.changed() => return,
                }
                let Ok(Some(mut lease)) = k.leases().get_opt(&k.lease(&ws)).await else {
                    continue;
                };
                if lease_holder(&lease, "").ok().map(|h| h.id) != Some(id.clone()) {
                    return;
                }
                if let Some(spec) = lease.spec.as_mut() {
                    spec.renew_time = Some(now());
                }
                let _ = k
                    .leases()
                    .replace(&k.lease(&ws), &PostParams::default(), &lease)
                    .await;
            }
        });
        Box::new(LeaseLock {
            k: self.clone(),
            workspace: workspace.to_string(),
            id: info.id,
            stop,
            task,
        })
    }
}

fn lease_holder(lease: &Lease, what: &str) -> Result<LockInfo, BackendError> {
    let raw = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LOCK_ANNOTATION))
        .cloned()
        .unwrap_or_default();
    crate::parse_lock(raw.as_bytes(), what)
}

fn expired(lease: &Lease) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    match spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) {
        Some(MicroTime(t)) => {
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(*t);
            age.as_secs() > seconds
        }
        None => true,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct LeaseLock {
    k: Kubernetes,
    workspace: String,
    id: String,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl HeldLock for LeaseLock {
    fn release(self: Box<Self>) -> Result<(), BackendError> {
        let _ = self.stop.send(true);
        let LeaseLock {
            k,
            workspace,
            id,
            task,
            ..
        } = *self;
        rt::run(async move {
            let _ = task.await;
            let what = k.describe(&workspace);
            let name = k.lease(&workspace);
            let Some(lease) = k
                .leases()
                .get_opt(&name)
                .await
                .map_err(api_err("read the lease of", &what))?
            else {
                return Ok(());
            };
            if lease_holder(&lease, &what).map(|h| h.id).ok() != Some(id) {
                return Ok(());
            }
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: lease.metadata.resource_version.clone(),
                    uid: lease.metadata.uid.clone(),
                }),
                ..DeleteParams::default()
            };
            match k.leases().delete(&name, &dp).await {
                Ok(_) => Ok(()),
                Err(e) if matches!(code(&e), Some(404) | Some(409)) => Ok(()),
                Err(e) => Err(api_err("release the lease of", &what)(e)),
            }
        })
    }
}

impl Backend for Kubernetes {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    fn describe(&self, workspace: &str) -> String {
        format!(
            "secret/{} in namespace {}",
            self.head(workspace),
            self.namespace
        )
    }

    fn read(&self, workspace: &str) -> Result<Option<Snapshot>, BackendError> {
        let (k, ws) = (self.clone(), workspace.to_string());
        rt::run(async move { k.read_async(&ws).await })
    }

    fn write(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<String, BackendError> {
        let (k, ws, expected) = (
            self.clone(),
            workspace.to_string(),
            expected.map(str::to_string),
        );
        rt::run(async move { k.write_async(&ws, bytes, expected).await })
    }

    fn lock(&self, workspace: &str, info: &LockInfo) -> Result<Box<dyn HeldLock>, BackendError> {
        let (k, ws, info) = (self.clone(), workspace.to_string(), info.clone());
        rt::run(async move { k.lock_async(&ws, info).await })
    }

    fn holder(&self, workspace: &str) -> Result<Option<LockInfo>, BackendError> {
        let (k, ws) = (self.clone(), workspace.to_string());
        rt::run(async move {
            let what = k.describe(&ws);
            match k
                .leases()
                .get_opt(&k.lease(&ws))
                .await
                .map_err(api_err("read the lease of", &what))?
            {
                Some(l) if !expired(&l) => lease_holder(&l, &what).map(Some),
                _ => Ok(None),
            }
        })
    }

    fn force_unlock(&self, workspace: &str, id: &str) -> Result<LockInfo, BackendError> {
        let Some(holder) = self.holder(workspace)? else {
            return Err(BackendError::NotLocked {
                what: self.describe(workspace),
            });
        };
        if holder.id != id {
            return Err(BackendError::LockIdMismatch {
                what: self.describe(workspace),
                given: id.into(),
                actual: holder.id,
            });
        }
        let (k, ws) = (self.clone(), workspace.to_string());
        rt::run(async move {
            match k
                .leases()
                .delete(&k.lease(&ws), &DeleteParams::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if code(&e) == Some(404) => Ok(()),
                Err(e) => Err(api_err("remove the lease of", &k.describe(&ws))(e)),
            }
        })?;
        Ok(holder)
    }

    fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        let k = self.clone();
        rt::run(async move {
            let lp = ListParams::default().labels(&format!(
                "brick.dev/state-suffix={},brick.dev/role=head",
                k.suffix
            ));
            let list = k.secrets().list(&lp).await.map_err(api_err(
                "list the workspaces in",
                &format!("namespace {}", k.namespace),
            ))?;
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|s| {
                    s.metadata
                        .labels
                        .and_then(|mut l| l.remove("brick.dev/workspace"))
                })
                .collect();
            names.push("default".into());
            names.sort();
            names.dedup();
            Ok(names)
        })
    }

    fn delete_workspace(&self, workspace: &str) -> Result<(), BackendError> {
        let (k, ws) = (self.clone(), workspace.to_string());
        rt::run(async move {
            match k
                .secrets()
                .delete(&k.head(&ws), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if code(&e) == Some(404) => {}
                Err(e) => return Err(api_err("delete", &k.describe(&ws))(e)),
            }
            k.remove_chunks(&ws, None).await
        })
    }

    fn check_workspace(&self, workspace: &str) -> Result<(), BackendError> {
        let refuse = |detail: String| {
            Err(BackendError::WorkspaceName {
                name: workspace.to_string(),
                detail,
            })
        };
        // A chunk's name is the head's and `-<generation>-<n>`; the Lease's is longer.
        for name in [
            self.head(workspace),
            format!("{}-{}-9999", self.head(workspace), "0".repeat(12)),
            self.lease(workspace),
        ] {
            if !dns_subdomain(&name) {
                return refuse(format!(
                    "the Secret or Lease name {name:?} would be invalid: Kubernetes wants a lowercase RFC 1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)"
                ));
            }
        }
        if workspace.len() > MAX_WORKSPACE {
            return refuse(format!(
                "it is longer than {MAX_WORKSPACE} characters (it is a label value, with \"{}\" after it for an apply's record)",
                crate::UNFINISHED_SUFFIX
            ));
        }
        Ok(())
    }

    fn prove(&self) -> Result<String, BackendError> {
        let k = self.clone();
        rt::run(async move {
            let name = format!(
                "brickstate-probe-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            let what = format!("secret/{name} in namespace {}", k.namespace);
            let s = k.secret(&name, k.labels("probe", "probe"), "probe", b"1".to_vec());
            let created = k
                .secrets()
                .create(&PostParams::default(), &s)
                .await
                .map_err(api_err("create a probe", &what))?;
            let second = k.secrets().create(&PostParams::default(), &s).await;
            let mut stale = s.clone();
            stale.metadata.resource_version = Some("1".into());
            let replaced = k
                .secrets()
                .replace(&name, &PostParams::default(), &stale)
                .await;
            let _ = k.secrets().delete(&name, &DeleteParams::default()).await;
            let no = |detail: &str| BackendError::NoConditionalWrites {
                store: format!("The Kubernetes API ({})", k.namespace),
                detail: detail.to_string(),
            };
            if second.is_ok() {
                return Err(no("a second create of one Secret succeeded"));
            }
            if created.metadata.resource_version.as_deref() != Some("1") && replaced.is_ok() {
                return Err(no("a replace with a stale resourceVersion succeeded"));
            }
            Ok(format!(
                "namespace {}: a second create was refused (409) and a stale resourceVersion too",
                k.namespace
            ))
        })
    }
}
