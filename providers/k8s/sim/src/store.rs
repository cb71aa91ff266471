//! The object store: every object by resource, namespace and name, the cluster-wide
//! resourceVersion, the event history that watches resume from, and the write paths
//! (create, update, patch, server-side apply, delete) with the API server's bookkeeping: uid,
//! creationTimestamp, generation, managedFields, finalizers and deletionTimestamp.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::error::{ApiError, Cause};
use crate::fields::{self, FieldSet, Shape};
use crate::selector::{FieldSelector, LabelSelector};
use crate::types::{ResourceType, builtins};
use crate::{crd, defaults, patch};

/// How many past events a watch can resume from.
const HISTORY: usize = 20_000;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches and controllers see it.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventType,
    pub group: String,
    /// The plural resource name (`deployments`).
    pub resource: String,
    pub object: Value,
    pub resource_version: u64,
}

impl Event {
    pub fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn kind_name(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
}

type Key = (String, String, String, String);

fn key(rt: &ResourceType, ns: &str, name: &str) -> Key {
    (
        rt.group.clone(),
        rt.plural.clone(),
        if rt.namespaced {
            ns.into()
        } else {
            String::new()
        },
        name.into(),
    )
}

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// `Strict`, `Warn`, `Ignore` (default: `Warn` like the server without the parameter).
    pub field_validation: Option<String>,
    pub force: bool,
    /// The user agent, from which the default field manager is taken.
    pub user_agent: Option<String>,
}

impl WriteOptions {
    fn manager(&self) -> String {
        if let Some(m) = &self.field_manager {
            return m.clone();
        }
        let ua = self.user_agent.as_deref().unwrap_or("unknown");
        let prefix = ua.split('/').next().unwrap_or(ua);
        prefix.chars().take(128).collect()
    }
}

/// How a delete treats dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
}

/// The patch formats the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

pub(crate) struct State {
    pub rv: u64,
    pub types: Vec<ResourceType>,
    pub objects: BTreeMap<Key, Value>,
    pub history: VecDeque<Event>,
    pub service_ips: u32,
    /// How many times each object (by key) was created, deletes notwithstanding: tests check
    /// that a client re-run after a crash creates nothing twice.
    pub creations: BTreeMap<Key, u32>,
}

/// What a simulated pod behind a Service answers to a request through the API server's
/// service proxy: status, content type and body.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A simulated endpoint of a Service port: called with the path after `…/proxy`.
pub type Backend = Arc<dyn Fn(&str) -> ProxyReply + Send + Sync>;

/// (namespace, Service, port name) → what serves it.
type Backends = BTreeMap<(String, String, String), Backend>;

/// The simulated cluster's data, shared by the HTTP server and the controllers.
#[derive(Clone)]
pub struct Store {
    pub(crate) state: Arc<Mutex<State>>,
    events: broadcast::Sender<Event>,
    /// (namespace, Service, port name) → what a controller serves there (see
    /// [`crate::Cluster::serve`]); a Service port without one has no endpoints.
    backends: Arc<Mutex<Backends>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn meta(obj: &Value) -> &Value {
    &obj["metadata"]
}

pub fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns_subdomain(s)
}

impl Store {
    /// Serves `backend` behind port `port` (its name) of Service `ns/service`; `None` stops.
    pub fn set_backend(&self, ns: &str, service: &str, port: &str, backend: Option<Backend>) {
        let key = (ns.to_string(), service.to_string(), port.to_string());
        let mut b = self.backends.lock().expect("backends");
        match backend {
            Some(f) => b.insert(key, f),
            None => b.remove(&key),
        };
    }

    /// Whether anything serves a port of Service `ns/service` (it has endpoints).
    pub fn has_backends(&self, ns: &str, service: &str) -> bool {
        self.backends
            .lock()
            .expect("backends")
            .keys()
            .any(|(n, s, _)| n == ns && s == service)
    }

    /// What serves port `port` of Service `ns/service`, if anything.
    pub fn backend(&self, ns: &str, service: &str, port: &str) -> Option<Backend> {
        let key = (ns.to_string(), service.to_string(), port.to_string());
        self.backends.lock().expect("backends").get(&key).cloned()
    }

    pub fn new() -> Store {
        let (events, _) = broadcast::channel(4096);
        let store = Store {
            state: Arc::new(Mutex::new(State {
                rv: 1000,
                types: builtins(),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                service_ips: 1,
                creations: BTreeMap::new(),
            })),
            events,
            backends: Arc::default(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = store.create(
                &store.resource("", "namespaces").expect("namespaces"),
                "",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                &WriteOptions::default(),
            );
        }
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]}});
        let _ = store.create(
            &store.resource("", "services").expect("services"),
            "default",
            svc,
            &WriteOptions {
                field_manager: Some("kube-apiserver".into()),
                ..WriteOptions::default()
            },
        );
        store
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times each object of `rt` (namespace, name) was created since the store
    /// started, deleted ones included (a delete and a new create count twice).
    pub fn creations(&self, rt: &ResourceType) -> Vec<(String, String, u32)> {
        self.lock()
            .creations
            .iter()
            .filter(|((g, plural, _, _), _)| *g == rt.group && *plural == rt.plural)
            .map(|((_, _, ns, name), n)| (ns.clone(), name.clone(), *n))
            .collect()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// A number that changes whenever the served types change (CRDs added or removed).
    pub fn types_version(&self) -> u64 {
        let s = self.lock();
        s.types.len() as u64 * 1_000_003
            + s.types.iter().map(|t| t.plural.len() as u64).sum::<u64>()
    }

    /// Every served resource type.
    pub fn types(&self) -> Vec<ResourceType> {
        self.lock().types.clone()
    }

    /// The type served at a group and plural (any served version).
    pub fn resource(&self, group: &str, plural: &str) -> Option<ResourceType> {
        self.lock()
            .types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .cloned()
    }

    pub fn resource_at(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.lock()
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type of an apiVersion and kind.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        self.lock()
            .types
            .iter()
            .find(|t| t.group == g && t.version == v && t.kind == kind)
            .cloned()
    }

    /// Events since a resourceVersion, or `None` when the history no longer reaches it.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Event>> {
        let s = self.lock();
        if let Some(first) = s.history.front()
            && first.resource_version > rv + 1
            && rv < s.rv
        {
            return None;
        }
        Some(
            s.history
                .iter()
                .filter(|e| e.resource_version > rv)
                .cloned()
                .collect(),
        )
    }

    fn emit(&self, s: &mut State, kind: EventType, rt: &ResourceType, object: Value) {
        let ev = Event {
            kind,
            group: rt.group.clone(),
            resource: rt.plural.clone(),
            object,
            resource_version: s.rv,
        };
        s.history.push_back(ev.clone());
        while s.history.len() > HISTORY {
            s.history.pop_front();
        }
        let _ = self.events.send(ev);
    }

    /// The object as served in `rt`'s version.
    fn present(rt: &ResourceType, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(rt.api_version());
        obj
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let s = self.lock();
        s.objects
            .get(&key(rt, ns, name))
            .cloned()
            .map(|o| Store::present(rt, o))
            .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))
    }

    /// Objects of a type (in one namespace or all) that match the selectors, and the list's
    /// resourceVersion.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Value>, u64) {
        let s = self.lock();
        let items = s
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == rt.group && *p == rt.plural && ns.is_none_or(|ns| ns == n)
            })
            .map(|(_, o)| o)
            .filter(|o| labels.matches(meta(o).get("labels")) && fields.matches(o))
            .map(|o| Store::present(rt, o.clone()))
            .collect();
        (items, s.rv)
    }

    pub fn create(
        &self,
        rt: &ResourceType,
        ns: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut s = self.lock();
        self.create_locked(&mut s, rt, ns, obj, opts)
    }

    fn check_body(rt: &ResourceType, ns: &str, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not an object",
            ));
        }
        match obj["kind"].as_str() {
            Some(k) if k != rt.kind => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({}) does not match the expected API version ({})",
                    obj["apiVersion"].as_str().unwrap_or(""),
                    rt.api_version()
                ))
                .with_details(json!({})));
            }
            _ => {}
        }
        obj["kind"] = json!(rt.kind);
        obj["apiVersion"] = json!(rt.api_version());
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if rt.namespaced {
            match obj["metadata"]["namespace"].as_str() {
                Some(n) if n != ns && !n.is_empty() => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => obj["metadata"]["namespace"] = json!(ns),
            }
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        Ok(())
    }

    fn check_namespace(s: &State, rt: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        match s
            .objects
            .get(&(String::new(), "namespaces".into(), String::new(), ns.into()))
        {
            None => Err(ApiError::not_found("namespaces", "", ns)),
            Some(n) if n["status"]["phase"] == "Terminating" => Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    rt.qualified()
                ),
            )
            .with_details(json!({"name": name, "kind": rt.plural, "causes": [{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace"}]}))),
            Some(_) => Ok(()),
        }
    }

    fn create_locked(
        &self,
        s: &mut State,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        Store::check_body(rt, ns, &mut obj)?;
        if name_of(&obj).is_empty()
            && let Some(g) = obj["metadata"]["generateName"].as_str()
        {
            let suffix: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .filter(|c| "bcdfghjklmnpqrstvwxz2456789".contains(*c))
                .chain("bcdfg".chars())
                .take(5)
                .collect();
            obj["metadata"]["name"] = json!(format!("{g}{suffix}"));
        }
        let name = name_of(&obj).to_string();
        if name.is_empty() {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                "",
                vec![Cause::new(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )],
            ));
        }
        let valid_name = if matches!(rt.kind.as_str(), "Namespace" | "Service") {
            is_dns_label(&name)
        } else {
            is_dns_subdomain(&name)
        };
        if !valid_name {
            let what = if matches!(rt.kind.as_str(), "Namespace" | "Service") {
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            } else {
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            };
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                &name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "metadata.name",
                    format!("Invalid value: \"{name}\": {what}"),
                )],
            ));
        }
        Store::check_namespace(s, rt, ns, &name)?;
        let k = key(rt, ns, &name);
        if s.objects.contains_key(&k) {
            return Err(ApiError::already_exists(&rt.plural, &rt.group, &name));
        }
        // The server owns these.
        if let Some(m) = obj["metadata"].as_object_mut() {
            for f in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
                "generation",
            ] {
                m.remove(f);
            }
        }
        if rt.has_status()
            && rt.kind != "Node"
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        self.admit(s, rt, None, &mut obj, opts)?;
        obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        obj["metadata"]["creationTimestamp"] = json!(now());
        if rt.generation || rt.crd.is_some() {
            obj["metadata"]["generation"] = json!(1);
        }
        let managed_existing = obj["metadata"].get("managedFields").cloned();
        if managed_existing.is_none() || opts.field_manager.is_some() || !opts.force {
            // Create is an Update operation by the manager (apply sets its own entries first).
            if obj["metadata"].get("managedFields").is_none() {
                let shape = Shape { rt: Some(rt) };
                let mut changed = fields::changes(&json!({}), &obj, shape).0;
                fields::strip_untracked(&mut changed, rt.has_status().then_some(false));
                set_entries(
                    &mut obj,
                    update_entries(
                        Vec::new(),
                        &opts.manager(),
                        &rt.api_version(),
                        None,
                        &changed,
                        &FieldSet::default(),
                    ),
                );
            }
        }
        if opts.dry_run {
            return Ok(obj);
        }
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        *s.creations.entry(k.clone()).or_default() += 1;
        s.objects.insert(k, obj.clone());
        self.emit(s, EventType::Added, rt, obj.clone());
        if rt.kind == "CustomResourceDefinition" {
            self.register_crd(s, &obj);
        }
        Ok(obj)
    }

    /// Defaulting and validation for a write, before bookkeeping.
    fn admit(
        &self,
        s: &mut State,
        rt: &ResourceType,
        old: Option<&Value>,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> Result<(), ApiError> {
        if rt.crd.is_some() {
            if let Some(schema) = &rt.schema {
                let strict = opts.field_validation.as_deref() == Some("Strict");
                crd::validate(rt, schema, obj, strict)?;
            }
        } else {
            defaults::apply(rt, old, obj, &mut s.service_ips);
            defaults::validate(rt, obj)?;
            if let Some(old) = old {
                defaults::validate_update(rt, old, obj)?;
            }
        }
        if rt.kind == "CustomResourceDefinition" {
            crd::check_definition(obj, old)?;
        }
        Ok(())
    }

    /// PUT: replace the object (or its status) with the caller's copy.
    pub fn update(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut obj: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut s = self.lock();
        Store::check_body(rt, ns, &mut obj)?;
        if name_of(&obj) != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let Some(old) = s.objects.get(&key(rt, ns, name)).cloned() else {
            if subresource.is_none() {
                // PUT creates when the object is missing, as the real server does for most kinds.
                return self.create_locked(&mut s, rt, ns, obj, opts);
            }
            return Err(ApiError::not_found(&rt.plural, &rt.group, name));
        };
        if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::conflict(
                &rt.plural,
                &rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        self.write_locked(&mut s, rt, old, obj, subresource, opts, None)
    }

    /// PATCH in any of the four formats.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        ptype: PatchType,
        body: &Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let mut s = self.lock();
        let old = s.objects.get(&key(rt, ns, name)).cloned();
        if ptype == PatchType::Apply {
            return self.apply_locked(&mut s, rt, ns, name, old, body, subresource, opts);
        }
        let Some(old) = old else {
            return Err(ApiError::not_found(&rt.plural, &rt.group, name));
        };
        let shape = Shape { rt: Some(rt) };
        let new = match ptype {
            PatchType::Json => patch::json_patch(&old, body)?,
            PatchType::Merge => patch::merge_patch(&old, body),
            PatchType::Strategic => {
                if rt.crd.is_some() {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                patch::strategic_merge(&old, body, shape)?
            }
            PatchType::Apply => unreachable!(),
        };
        if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::conflict(
                &rt.plural,
                &rt.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut new = new;
        Store::check_body(rt, ns, &mut new)?;
        self.write_locked(&mut s, rt, old, new, subresource, opts, None)
            .map(|v| (v, false))
    }

    /// Server-side apply: merge the applied configuration, move field ownership, report
    /// conflicts with other managers (409 unless forced); creates the object when missing.
    #[allow(clippy::too_many_arguments)]
    fn apply_locked(
        &self,
        s: &mut State,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        old: Option<Value>,
        body: &Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let Some(manager) = opts.field_manager.clone() else {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager to be set",
            ));
        };
        let mut applied = body.clone();
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the applied configuration is not an object",
            ));
        }
        for f in ["apiVersion", "kind"] {
            if applied
                .get(f)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::bad_request(format!(
                    "invalid object type: {}",
                    if f == "kind" {
                        "kind not set"
                    } else {
                        "apiVersion not set"
                    }
                )));
            }
        }
        if applied["kind"] != json!(rt.kind) || applied["apiVersion"] != json!(rt.api_version()) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                applied["apiVersion"].as_str().unwrap_or(""),
                rt.api_version()
            )));
        }
        if name_of(&applied).is_empty() {
            applied["metadata"]["name"] = json!(name);
        } else if name_of(&applied) != name {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        if rt.crd.is_some()
            && let Some(schema) = &rt.schema
        {
            // Unknown fields in an applied configuration fail the apply (typed patch).
            crd::check_typed(rt, schema, &applied, ns, name)?;
        }
        let shape = Shape { rt: Some(rt) };
        let status_sub = if rt.has_status() {
            Some(subresource == Some("status"))
        } else {
            None
        };
        let mut set = fields::applied_set(&applied, shape);
        fields::strip_untracked(&mut set, status_sub);
        let live = old.clone().unwrap_or_else(
            || json!({"apiVersion": rt.api_version(), "kind": rt.kind, "metadata": {"name": name}}),
        );
        let mut entries = entries_of(&live);
        let sub = subresource.map(str::to_string);
        let me = |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource == sub;
        let previous = entries
            .iter()
            .find(|e| me(e))
            .map(|e| e.set.clone())
            .unwrap_or_default();
        // The merge, minus what this manager applied before and no one else owns now.
        let mut applied_clean = applied.clone();
        if let Some(m) = applied_clean["metadata"].as_object_mut() {
            m.remove("managedFields");
            m.remove("resourceVersion");
            m.remove("uid");
            m.remove("creationTimestamp");
        }
        let mut merged = fields::merge(&live, &applied_clean, shape);
        let mut others = FieldSet::default();
        for e in entries.iter().filter(|e| !me(e)) {
            others.union(&e.set);
        }
        let mut dropped = previous.clone();
        dropped.subtract(&set);
        fields::remove_fields(&mut merged, &dropped, &others, shape);
        // Conflicts: fields this apply changes that another manager owns.
        let (changed, _removed) = fields::changes(&live, &merged, shape);
        let mut changed_tracked = changed.clone();
        fields::strip_untracked(&mut changed_tracked, status_sub);
        // (printed manager, path) of every conflict, managers in entry order, paths sorted.
        let mut conflicts: Vec<(String, Vec<String>)> = Vec::new();
        for e in entries.iter().filter(|e| !me(e)) {
            let clash = changed_tracked.intersect(&e.set);
            let clash = clash.intersect(&set);
            for p in clash.paths() {
                conflicts.push((print_manager(e), p));
            }
        }
        if !conflicts.is_empty() && !opts.force {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|(m, p)| {
                    json!({"reason": "FieldManagerConflict",
                        "message": format!("conflict with {m}"),
                        "field": fields::display_path(p)})
                })
                .collect();
            let message = if conflicts.len() == 1 {
                let (m, p) = &conflicts[0];
                format!(
                    "Apply failed with 1 conflict: conflict with {m}: {}",
                    fields::display_path(p)
                )
            } else {
                let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
                managers.sort();
                managers.dedup();
                let mut lines = Vec::new();
                for m in managers {
                    lines.push(format!("conflicts with {m}:"));
                    for (_, p) in conflicts.iter().filter(|(x, _)| x == m) {
                        lines.push(format!("- {}", fields::display_path(p)));
                    }
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            };
            return Err(
                ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
            );
        }
        // Ownership: this manager owns what it applied; others lose what changed.
        let mut lose = changed_tracked.clone();
        lose.subtract_subtrees(&FieldSet::default());
        for e in entries.iter_mut().filter(|e| !me(e)) {
            e.set.subtract(&changed_tracked);
        }
        let api_version = rt.api_version();
        match entries.iter_mut().find(|e| me(e)) {
            Some(e) => {
                if e.set != set {
                    e.time = now();
                }
                e.set = set.clone();
                e.api_version = api_version.clone();
            }
            None => entries.push(Entry {
                manager: manager.clone(),
                operation: "Apply".into(),
                api_version: api_version.clone(),
                time: now(),
                subresource: sub.clone(),
                set: set.clone(),
            }),
        }
        entries.retain(|e| !e.set.is_empty());
        set_entries(&mut merged, entries);
        match old {
            None => {
                if subresource.is_some() {
                    return Err(ApiError::not_found(&rt.plural, &rt.group, name));
                }
                let mut o = opts.clone();
                o.force = true;
                let created = self.create_locked(s, rt, ns, merged, &o)?;
                Ok((created, true))
            }
            Some(old) => self
                .write_locked(s, rt, old, merged, subresource, opts, Some(()))
                .map(|v| (v, false)),
        }
    }

    /// The common end of update, patch and apply: reset fields, validate, bump generation and
    /// resourceVersion, record the Update manager, store, emit; a no-op write changes nothing.
    #[allow(clippy::too_many_arguments)]
    fn write_locked(
        &self,
        s: &mut State,
        rt: &ResourceType,
        old: Value,
        mut new: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
        applied: Option<()>,
    ) -> Result<Value, ApiError> {
        let name = name_of(&old).to_string();
        let ns = old["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        // The server's own fields are kept.
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        new["metadata"]["name"] = json!(name);
        if rt.namespaced {
            new["metadata"]["namespace"] = json!(ns);
        }
        // Status and spec are written through their own endpoints.
        if rt.has_status() {
            if subresource == Some("status") {
                let status = new.get("status").cloned();
                let mut keep = old.clone();
                match status {
                    Some(st) => keep["status"] = st,
                    None => {
                        if let Some(m) = keep.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                keep["metadata"]["managedFields"] = new["metadata"]
                    .get("managedFields")
                    .cloned()
                    .unwrap_or(json!([]));
                // Workload status strategies keep spec and labels, not annotations.
                if rt.group == "apps" {
                    match new["metadata"].get("annotations") {
                        Some(a) => keep["metadata"]["annotations"] = a.clone(),
                        None => {
                            if let Some(m) = keep["metadata"].as_object_mut() {
                                m.remove("annotations");
                            }
                        }
                    }
                }
                new = keep;
            } else if rt.kind != "Namespace" || subresource.is_none() {
                match old.get("status") {
                    Some(st) => new["status"] = st.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
        }
        if subresource != Some("status") {
            self.admit(s, rt, Some(&old), &mut new, opts)?;
        }
        if old["metadata"].get("deletionTimestamp").is_some() {
            // Finalizers may only be removed once deletion started.
            let before: Vec<Value> = old["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let after: Vec<Value> = new["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if after.iter().any(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    &name,
                    vec![Cause::new(
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted",
                    )],
                ));
            }
        }
        if applied.is_none() {
            let shape = Shape { rt: Some(rt) };
            let mut old_cmp = old.clone();
            let mut new_cmp = new.clone();
            for o in [&mut old_cmp, &mut new_cmp] {
                if let Some(m) = o["metadata"].as_object_mut() {
                    m.remove("managedFields");
                }
            }
            let (mut changed, mut removed) = fields::changes(&old_cmp, &new_cmp, shape);
            let status_sub = if rt.has_status() {
                Some(subresource == Some("status"))
            } else {
                None
            };
            fields::strip_untracked(&mut changed, status_sub);
            fields::strip_untracked(&mut removed, status_sub);
            // A client's managedFields in the body replace the server's only when given.
            let base = if new["metadata"].get("managedFields").is_some()
                && new["metadata"]["managedFields"] != old["metadata"]["managedFields"]
            {
                entries_of(&new)
            } else {
                entries_of(&old)
            };
            let entries = update_entries(
                base,
                &opts.manager(),
                &rt.api_version(),
                subresource,
                &changed,
                &removed,
            );
            set_entries(&mut new, entries);
        }
        if (rt.generation || rt.crd.is_some()) && spec_changed(&old, &new) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        let mut cmp_old = old.clone();
        let mut cmp_new = new.clone();
        for o in [&mut cmp_old, &mut cmp_new] {
            if let Some(m) = o["metadata"]["managedFields"].as_array_mut() {
                for e in m {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        if cmp_old == cmp_new {
            return Ok(Store::present(rt, old));
        }
        if opts.dry_run {
            return Ok(Store::present(rt, new));
        }
        let finalizers_empty = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
        s.rv += 1;
        new["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        let k = key(rt, &ns, &name);
        if new["metadata"].get("deletionTimestamp").is_some()
            && finalizers_empty
            && !(rt.kind == "Namespace" && spec_finalizers(&new))
        {
            s.objects.remove(&k);
            self.emit(s, EventType::Deleted, rt, new.clone());
            if rt.kind == "CustomResourceDefinition" {
                self.unregister_crd(s, &new);
            }
            return Ok(Store::present(rt, new));
        }
        s.objects.insert(k, new.clone());
        self.emit(s, EventType::Modified, rt, new.clone());
        if rt.kind == "CustomResourceDefinition" {
            self.register_crd(s, &new);
        }
        Ok(Store::present(rt, new))
    }

    /// DELETE: with finalizers (or foreground/orphan propagation) the object gets a
    /// deletionTimestamp and stays until they are removed; otherwise it is gone.
    /// Returns the object and whether it is gone.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let mut s = self.lock();
        let k = key(rt, ns, name);
        let Some(mut obj) = s.objects.get(&k).cloned() else {
            return Err(ApiError::not_found(&rt.plural, &rt.group, name));
        };
        if let Some(uid) = &opts.precondition_uid
            && obj["metadata"]["uid"].as_str() != Some(uid)
        {
            return Err(ApiError::conflict(
                &rt.plural,
                &rt.group,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    obj["metadata"]["uid"].as_str().unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = &opts.precondition_rv
            && obj["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(ApiError::conflict(
                &rt.plural,
                &rt.group,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    obj["metadata"]["resourceVersion"].as_str().unwrap_or("")
                ),
            ));
        }
        let mut finalizers: Vec<Value> = obj["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let prop = opts.propagation.unwrap_or_default();
        let add = |f: &mut Vec<Value>, name: &str| {
            if !f.contains(&json!(name)) {
                f.push(json!(name));
            }
        };
        let already = obj["metadata"].get("deletionTimestamp").is_some();
        match prop {
            Propagation::Foreground => add(&mut finalizers, "foregroundDeletion"),
            Propagation::Orphan => add(&mut finalizers, "orphan"),
            Propagation::Background => {}
        }
        let namespace_wait = rt.kind == "Namespace";
        let crd_wait = rt.kind == "CustomResourceDefinition";
        if crd_wait {
            add(
                &mut finalizers,
                "customresourcecleanup.apiextensions.k8s.io",
            );
        }
        if finalizers.is_empty() && !namespace_wait {
            if opts.dry_run {
                return Ok((obj, true));
            }
            s.rv += 1;
            s.objects.remove(&k);
            obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
            self.emit(&mut s, EventType::Deleted, rt, obj.clone());
            return Ok((Store::present(rt, obj), true));
        }
        if already
            && obj["metadata"]["finalizers"].as_array().map(Vec::len) == Some(finalizers.len())
        {
            return Ok((Store::present(rt, obj), false));
        }
        if !already {
            obj["metadata"]["deletionTimestamp"] = json!(now());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        if finalizers.is_empty() {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
        } else {
            obj["metadata"]["finalizers"] = Value::Array(finalizers);
        }
        if namespace_wait {
            obj["status"]["phase"] = json!("Terminating");
        }
        if crd_wait {
            obj["status"]["conditions"] = upsert_condition(
                &obj["status"]["conditions"],
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            );
        }
        if opts.dry_run {
            return Ok((obj, false));
        }
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        s.objects.insert(k, obj.clone());
        self.emit(&mut s, EventType::Modified, rt, obj.clone());
        Ok((Store::present(rt, obj), false))
    }

    /// Every stored object of every type (for controllers).
    pub fn all(&self) -> Vec<(ResourceType, Value)> {
        let s = self.lock();
        s.objects
            .iter()
            .filter_map(|((g, p, _, _), o)| {
                s.types
                    .iter()
                    .find(|t| t.group == *g && t.plural == *p && t.storage)
                    .map(|t| (t.clone(), o.clone()))
            })
            .collect()
    }

    fn register_crd(&self, s: &mut State, crd: &Value) {
        let types = crd::types_of(crd);
        let name = name_of(crd).to_string();
        s.types.retain(|t| t.crd.as_deref() != Some(&name));
        s.types.extend(types);
        // The API server's CRD controllers accept the names and establish the kind at once.
        let k = (
            "apiextensions.k8s.io".to_string(),
            "customresourcedefinitions".to_string(),
            String::new(),
            name.clone(),
        );
        if let Some(obj) = s.objects.get(&k).cloned() {
            let mut o = obj.clone();
            crd::set_status(&mut o);
            if o != obj {
                s.rv += 1;
                o["metadata"]["resourceVersion"] = json!(s.rv.to_string());
                s.objects.insert(k, o.clone());
                let rt = s
                    .types
                    .iter()
                    .find(|t| t.plural == "customresourcedefinitions")
                    .cloned();
                if let Some(rt) = rt {
                    self.emit(s, EventType::Modified, &rt, o);
                }
            }
        }
    }

    fn unregister_crd(&self, s: &mut State, crd: &Value) {
        let name = name_of(crd).to_string();
        let gone: Vec<ResourceType> = s
            .types
            .iter()
            .filter(|t| t.crd.as_deref() == Some(&name))
            .cloned()
            .collect();
        s.types.retain(|t| t.crd.as_deref() != Some(&name));
        for t in gone {
            s.objects
                .retain(|(g, p, _, _), _| !(*g == t.group && *p == t.plural));
        }
    }
}

fn spec_finalizers(ns: &Value) -> bool {
    ns["spec"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

/// Whether anything but metadata and status changed.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// A condition list with one condition set (added or its status changed).
pub fn upsert_condition(
    conds: &Value,
    ctype: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> Value {
    let mut list: Vec<Value> = conds.as_array().cloned().unwrap_or_default();
    let fresh = json!({"type": ctype, "status": status, "lastTransitionTime": now(),
        "reason": reason, "message": message});
    match list.iter_mut().find(|c| c["type"] == ctype) {
        Some(c) => {
            if c["status"] != status {
                *c = fresh;
            } else {
                c["reason"] = json!(reason);
                c["message"] = json!(message);
            }
        }
        None => list.push(fresh),
    }
    Value::Array(list)
}

/// A manager as conflict messages name it: `"kubectl"`, `"x" using v1` for updates,
/// `with subresource "status"` for subresource managers.
fn print_manager(e: &Entry) -> String {
    let mut m = format!("{:?}", e.manager);
    if let Some(sub) = &e.subresource {
        m = format!("{m} with subresource {sub:?}");
    }
    if e.operation == "Update" {
        m = format!("{m} using {}", e.api_version);
    }
    m
}

/// One managedFields entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub set: FieldSet,
}

pub fn entries_of(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or("").into(),
                    operation: e["operation"].as_str().unwrap_or("Update").into(),
                    api_version: e["apiVersion"].as_str().unwrap_or("").into(),
                    time: e["time"].as_str().unwrap_or("").into(),
                    subresource: e["subresource"].as_str().map(str::to_string),
                    set: FieldSet::from_json(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    // The server keeps Apply entries before Update ones, each by time (stable).
    entries
        .sort_by(|a, b| (a.operation != "Apply", &a.time).cmp(&(b.operation != "Apply", &b.time)));
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut m = Map::new();
            m.insert("manager".into(), json!(e.manager));
            m.insert("operation".into(), json!(e.operation));
            m.insert("apiVersion".into(), json!(e.api_version));
            m.insert("time".into(), json!(e.time));
            m.insert("fieldsType".into(), json!("FieldsV1"));
            m.insert("fieldsV1".into(), e.set.to_json());
            if let Some(s) = e.subresource {
                m.insert("subresource".into(), json!(s));
            }
            Value::Object(m)
        })
        .collect();
    if let Some(m) = obj["metadata"].as_object_mut() {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The entries after an Update operation: the manager gains what changed, every manager
/// loses what changed hands or was removed.
fn update_entries(
    mut entries: Vec<Entry>,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    changed: &FieldSet,
    removed: &FieldSet,
) -> Vec<Entry> {
    let sub = subresource.map(str::to_string);
    for e in entries.iter_mut() {
        let mine = e.manager == manager && e.operation == "Update" && e.subresource == sub;
        if !mine {
            e.set.subtract(changed);
        }
        e.set.subtract_subtrees(removed);
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.manager == manager && e.operation == "Update" && e.subresource == sub)
        {
            Some(e) => {
                e.set.union(changed);
                e.time = now();
                e.api_version = api_version.into();
            }
            None => entries.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now(),
                subresource: sub,
                set: changed.clone(),
            }),
        }
    }
    entries.retain(|e| !e.set.is_empty());
    entries
}
