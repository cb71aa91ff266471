//! The resource types the simulated API server serves: the built-in kinds brick uses and the
//! kinds CRDs add, with what discovery reports about them and the list semantics (associative
//! list keys, sets, maps) that server-side apply and strategic merge patch need.

use serde_json::{Value, json};

/// One served resource (one group, version and plural).
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresources served besides the object itself (`status`, `eviction`, `scale`, `finalize`).
    pub subresources: Vec<String>,
    /// Whether `metadata.generation` moves when the spec changes.
    pub generation: bool,
    /// For kinds a CRD adds: the CRD's name and this version's `openAPIV3Schema`.
    pub crd: Option<String>,
    pub schema: Option<Value>,
    /// Whether this version is the CRD's storage version (always true for built-ins).
    pub storage: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s == "status")
    }

    /// What error messages call the resource: `deployments.apps`, `configmaps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    subresources: &[&str],
    generation: bool,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        subresources: subresources.iter().map(|s| s.to_string()).collect(),
        generation,
        crd: None,
        schema: None,
        storage: true,
    }
}

/// The built-in kinds the simulator serves.
pub fn builtins() -> Vec<ResourceType> {
    let ns = true;
    let cl = false;
    let mut v = vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            cl,
            &["ns"],
            &["status", "finalize"],
            false,
        ),
        builtin("", "v1", "ConfigMap", "configmaps", ns, &["cm"], &[], false),
        builtin("", "v1", "Secret", "secrets", ns, &[], &[], false),
        builtin(
            "",
            "v1",
            "Service",
            "services",
            ns,
            &["svc"],
            &["status"],
            false,
        ),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            ns,
            &["sa"],
            &[],
            false,
        ),
        builtin("", "v1", "Node", "nodes", cl, &["no"], &["status"], false),
        builtin(
            "",
            "v1",
            "Pod",
            "pods",
            ns,
            &["po"],
            &["status", "eviction"],
            true,
        ),
        builtin(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            ns,
            &["pvc"],
            &["status"],
            false,
        ),
        builtin(
            "",
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            cl,
            &["pv"],
            &["status"],
            false,
        ),
        builtin("", "v1", "Event", "events", ns, &["ev"], &[], false),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            ns,
            &["deploy"],
            &["status", "scale"],
            true,
        ),
        builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            ns,
            &["sts"],
            &["status", "scale"],
            true,
        ),
        builtin(
            "apps",
            "v1",
            "DaemonSet",
            "daemonsets",
            ns,
            &["ds"],
            &["status"],
            true,
        ),
        builtin(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            ns,
            &["rs"],
            &["status", "scale"],
            true,
        ),
        builtin("batch", "v1", "Job", "jobs", ns, &[], &["status"], true),
        builtin(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            cl,
            &["sc"],
            &[],
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            ns,
            &[],
            &[],
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            ns,
            &[],
            &[],
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            cl,
            &[],
            &[],
            false,
        ),
        builtin(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            cl,
            &[],
            &[],
            false,
        ),
        builtin(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            ns,
            &["pdb"],
            &["status"],
            true,
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            ns,
            &[],
            &[],
            false,
        ),
        builtin(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            ns,
            &["netpol"],
            &[],
            true,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            cl,
            &["crd", "crds"],
            &["status"],
            true,
        ),
    ];
    for t in &mut v {
        if matches!(
            t.kind.as_str(),
            "Pod"
                | "Service"
                | "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "Job"
                | "ConfigMap"
                | "Secret"
                | "ServiceAccount"
                | "PersistentVolumeClaim"
                | "Event"
        ) {
            t.categories = vec!["all".into()];
        }
        if matches!(
            t.kind.as_str(),
            "ConfigMap" | "Secret" | "ServiceAccount" | "Event"
        ) {
            t.categories.clear();
        }
    }
    v
}

/// How a list is merged by server-side apply and strategic merge patch.
#[derive(Clone, Debug, PartialEq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// Items identified by these fields.
    Map(Vec<String>),
    /// Scalar items, unique.
    Set,
}

/// The list semantics of a built-in field, from its path (field names only).
pub fn builtin_list_type(path: &[String]) -> ListType {
    let last = path.last().map(String::as_str).unwrap_or("");
    let inside = |name: &str| path.iter().any(|p| p == name);
    let keys = |k: &[&str]| ListType::Map(k.iter().map(|s| s.to_string()).collect());
    match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => keys(&["name"]),
        "ports" if inside("containers") || inside("initContainers") => {
            keys(&["containerPort", "protocol"])
        }
        "ports" if path.len() == 2 && path[0] == "spec" => keys(&["port", "protocol"]),
        "volumeMounts" => keys(&["mountPath"]),
        "volumeDevices" => keys(&["devicePath"]),
        "conditions" => keys(&["type"]),
        "ownerReferences" => keys(&["uid"]),
        "finalizers" => ListType::Set,
        "hostAliases" => keys(&["ip"]),
        "topologySpreadConstraints" => keys(&["topologyKey", "whenUnsatisfiable"]),
        "resourceClaims" => keys(&["name"]),
        _ => ListType::Atomic,
    }
}

/// Whether a built-in object field is a map (string keys chosen by the user), whose node
/// becomes a member of a manager's field set when the map itself is added.
pub fn builtin_is_map(kind: &str, path: &[String]) -> bool {
    let last = path.last().map(String::as_str).unwrap_or("");
    matches!(
        last,
        "labels"
            | "annotations"
            | "data"
            | "binaryData"
            | "stringData"
            | "matchLabels"
            | "nodeSelector"
            | "capacity"
            | "allocatable"
            | "requests"
            | "limits"
            | "parameters"
            | "hard"
            | "used"
    ) || (kind == "Service" && path == ["spec", "selector"])
}

/// The list semantics for a field of a kind with an OpenAPI schema (a CRD), following the
/// schema's `x-kubernetes-list-type` and `x-kubernetes-list-map-keys` (atomic by default);
/// `metadata` uses the built-in rules.
pub fn schema_at<'a>(schema: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut s = schema;
    for seg in path {
        let next = s
            .get("properties")
            .and_then(|p| p.get(seg))
            .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| s.get("items").and_then(|i| schema_at_item(i, seg)));
        s = next?;
    }
    Some(s)
}

fn schema_at_item<'a>(items: &'a Value, seg: &str) -> Option<&'a Value> {
    items.get("properties").and_then(|p| p.get(seg))
}

/// Every path above is given as field names only; list items are transparent (a list's
/// items schema is entered by the next field name).
pub fn list_type_for(rt: Option<&ResourceType>, path: &[String]) -> ListType {
    if let Some(schema) = rt.and_then(|t| t.schema.as_ref())
        && path.first().map(String::as_str) != Some("metadata")
    {
        return match schema_at(schema, path) {
            Some(s) => match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => ListType::Map(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Some("set") => ListType::Set,
                _ => ListType::Atomic,
            },
            None => ListType::Atomic,
        };
    }
    builtin_list_type(path)
}

/// Whether an object field is a map (see [`builtin_is_map`]); for CRDs, a schema node with
/// `additionalProperties` or preserving unknown fields without properties.
pub fn is_map_for(rt: Option<&ResourceType>, path: &[String]) -> bool {
    if let Some(schema) = rt.and_then(|t| t.schema.as_ref())
        && path.first().map(String::as_str) != Some("metadata")
    {
        return match schema_at(schema, path) {
            Some(s) => {
                s.get("additionalProperties").is_some_and(|a| a.is_object())
                    || (s.get("properties").is_none()
                        && s.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)))
            }
            None => false,
        };
    }
    builtin_is_map(rt.map(|t| t.kind.as_str()).unwrap_or(""), path)
}
