//! `rook_storage_class`: the StorageClass through which Kubernetes volumes are RBD images of a
//! Rook pool. The provisioner (`<operator namespace>.rbd.csi.ceph.com`) and the CSI secrets
//! (`rook-csi-rbd-provisioner`, `rook-csi-rbd-node` in the cluster's namespace) are derived as
//! Rook's `csi-rbd/storageclass.yaml` documents them.

use std::collections::BTreeMap;

use brick_provider_api::provider::PlanResponse;
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use serde_json::{Value as Json, json};

use crate::convert::{bool_attr, s, str_attr};

pub const TYPE: &str = "rook_storage_class";
pub const API_VERSION: &str = "storage.k8s.io/v1";
pub const KIND: &str = "StorageClass";

pub fn schema() -> ResourceSchema {
    let string = || Type::String;
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr("id", Attribute::computed(string()).describe("The StorageClass's name."))
            .attr(
                "name",
                Attribute::required(string())
                    .forces_replacement()
                    .describe("The StorageClass's name, e.g. rook-ceph-block."),
            )
            .attr(
                "pool",
                Attribute::required(string())
                    .forces_replacement()
                    .describe("The CephBlockPool whose RBD images back the volumes."),
            )
            .attr(
                "cluster_namespace",
                Attribute::optional(string())
                    .default(s("rook-ceph"))
                    .forces_replacement()
                    .describe("The CephCluster's namespace (the clusterID and the secrets' namespace). Default: rook-ceph."),
            )
            .attr(
                "operator_namespace",
                Attribute::optional(string())
                    .forces_replacement()
                    .describe("The Rook operator's namespace, which names the provisioner. Default: cluster_namespace."),
            )
            .attr(
                "reclaim_policy",
                Attribute::optional(string())
                    .default(s("Delete"))
                    .forces_replacement()
                    .describe("Delete (default) or Retain."),
            )
            .attr(
                "allow_volume_expansion",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(true))
                    .describe("Whether volumes can grow. Default: true."),
            )
            .attr(
                "fstype",
                Attribute::optional(string())
                    .default(s("ext4"))
                    .forces_replacement()
                    .describe("The file system made on each volume. Default: ext4."),
            )
            .attr(
                "image_features",
                Attribute::optional(string())
                    .default(s("layering"))
                    .forces_replacement()
                    .describe("RBD image features, comma-separated. Default: layering."),
            )
            .attr(
                "default_class",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(false))
                    .describe("Mark it the cluster's default StorageClass. Default: false."),
            )
            .attr(
                "provisioner",
                Attribute::computed(string()).describe("<operator namespace>.rbd.csi.ceph.com."),
            ),
    }
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if let Some(p) = str_attr(config, "reclaim_policy")
        && !["Delete", "Retain"].contains(&p)
    {
        d.push(
            Diagnostic::error(
                "brick::rook::invalid_storage_class",
                "Invalid reclaim policy",
                format!("reclaim_policy is \"{p}\"; a StorageClass takes Delete or Retain."),
            )
            .at(["reclaim_policy"]),
        );
    }
    d
}

fn operator_namespace(v: &Value) -> &str {
    str_attr(v, "operator_namespace")
        .or_else(|| str_attr(v, "cluster_namespace"))
        .unwrap_or("rook-ceph")
}

/// The provisioner Rook's CSI driver registers: `<operator namespace>.rbd.csi.ceph.com`.
pub fn provisioner(v: &Value) -> String {
    format!("{}.rbd.csi.ceph.com", operator_namespace(v))
}

pub fn plan(_prior: &Value, proposed: &Value) -> PlanResponse {
    let done = |planned| PlanResponse {
        planned,
        requires_replace: Vec::new(),
        diagnostics: Vec::new(),
    };
    if proposed.is_null() || !proposed.is_known() {
        return done(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    m.insert(
        "id".into(),
        proposed
            .get("name")
            .cloned()
            .unwrap_or(Value::unknown(Type::String)),
    );
    let known = ["operator_namespace", "cluster_namespace"]
        .iter()
        .all(|a| proposed.get(a).is_none_or(Value::is_known));
    m.insert(
        "provisioner".into(),
        if known {
            s(provisioner(proposed))
        } else {
            Value::unknown(Type::String)
        },
    );
    done(Value::object(m))
}

/// The StorageClass object.
pub fn render(planned: &Value) -> Json {
    let cluster_ns = str_attr(planned, "cluster_namespace").unwrap_or("rook-ceph");
    let mut params = BTreeMap::new();
    let mut p = |k: &str, v: &str| {
        params.insert(k.to_string(), v.to_string());
    };
    p("clusterID", cluster_ns);
    p("pool", str_attr(planned, "pool").unwrap_or(""));
    p("imageFormat", "2");
    p(
        "imageFeatures",
        str_attr(planned, "image_features").unwrap_or("layering"),
    );
    for (role, secret) in [
        ("provisioner", "rook-csi-rbd-provisioner"),
        ("controller-expand", "rook-csi-rbd-provisioner"),
        ("node-stage", "rook-csi-rbd-node"),
    ] {
        p(&format!("csi.storage.k8s.io/{role}-secret-name"), secret);
        p(
            &format!("csi.storage.k8s.io/{role}-secret-namespace"),
            cluster_ns,
        );
    }
    p(
        "csi.storage.k8s.io/fstype",
        str_attr(planned, "fstype").unwrap_or("ext4"),
    );
    let mut metadata = json!({"name": str_attr(planned, "name").unwrap_or("")});
    if bool_attr(planned, "default_class") == Some(true) {
        metadata["annotations"] = json!({"storageclass.kubernetes.io/is-default-class": "true"});
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "provisioner": provisioner(planned),
        "parameters": params,
        "reclaimPolicy": str_attr(planned, "reclaim_policy").unwrap_or("Delete"),
        "allowVolumeExpansion": bool_attr(planned, "allow_volume_expansion").unwrap_or(true),
    })
}

/// The configuration-side attributes read back from a live StorageClass.
pub fn from_live(carry: &Value, live: &Json) -> Value {
    let mut m = carry.as_mapping().cloned().unwrap_or_default();
    let p = &live["parameters"];
    let name = live
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    m.insert("id".into(), s(name));
    m.insert("name".into(), s(name));
    if let Some(pool) = p["pool"].as_str() {
        m.insert("pool".into(), s(pool));
    }
    if let Some(ns) = p["clusterID"].as_str() {
        m.insert("cluster_namespace".into(), s(ns));
    }
    if let Some(fs) = p["csi.storage.k8s.io/fstype"].as_str() {
        m.insert("fstype".into(), s(fs));
    }
    if let Some(f) = p["imageFeatures"].as_str() {
        m.insert("image_features".into(), s(f));
    }
    if let Some(r) = live["reclaimPolicy"].as_str() {
        m.insert("reclaim_policy".into(), s(r));
    }
    m.insert(
        "allow_volume_expansion".into(),
        Value::bool(live["allowVolumeExpansion"].as_bool().unwrap_or(false)),
    );
    m.insert(
        "default_class".into(),
        Value::bool(
            live.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Json::as_str)
                == Some("true"),
        ),
    );
    if let Some(prov) = live["provisioner"].as_str() {
        m.insert("provisioner".into(), s(prov));
        if let Some(op) = prov.strip_suffix(".rbd.csi.ceph.com") {
            let cluster =
                str_attr(&Value::object(m.clone()), "cluster_namespace").map(str::to_string);
            let configured = carry
                .get("operator_namespace")
                .is_some_and(|v| !v.is_null());
            if configured || cluster.as_deref() != Some(op) {
                m.insert("operator_namespace".into(), s(op));
            }
        }
    }
    Value::object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc() -> Value {
        Value::object_from([
            ("name", s("rook-ceph-block")),
            ("pool", s("replicapool")),
            ("cluster_namespace", s("rook-ceph")),
            ("operator_namespace", Value::null(Type::String)),
            ("reclaim_policy", s("Delete")),
            ("allow_volume_expansion", Value::bool(true)),
            ("fstype", s("ext4")),
            ("image_features", s("layering")),
            ("default_class", Value::bool(false)),
        ])
    }

    /// Rook's own csi-rbd/storageclass.yaml (v1.20.6), without its comments.
    #[test]
    fn the_seeds_storage_class_is_rooks_example() {
        let obj = render(&sc());
        assert_eq!(obj["provisioner"], "rook-ceph.rbd.csi.ceph.com");
        let p = &obj["parameters"];
        assert_eq!(p["clusterID"], "rook-ceph");
        assert_eq!(p["pool"], "replicapool");
        assert_eq!(p["imageFormat"], "2");
        assert_eq!(
            p["csi.storage.k8s.io/provisioner-secret-name"],
            "rook-csi-rbd-provisioner"
        );
        assert_eq!(
            p["csi.storage.k8s.io/node-stage-secret-name"],
            "rook-csi-rbd-node"
        );
        assert_eq!(
            p["csi.storage.k8s.io/node-stage-secret-namespace"],
            "rook-ceph"
        );
        assert_eq!(obj["reclaimPolicy"], "Delete");
        assert_eq!(obj["allowVolumeExpansion"], true);
    }

    #[test]
    fn the_provisioner_follows_the_operator_namespace() {
        let mut m = sc().as_mapping().cloned().unwrap();
        m.insert("operator_namespace".into(), s("rook-op"));
        m.insert("cluster_namespace".into(), s("storage"));
        let v = Value::object(m);
        let obj = render(&v);
        assert_eq!(obj["provisioner"], "rook-op.rbd.csi.ceph.com");
        assert_eq!(obj["parameters"]["clusterID"], "storage");
        let back = from_live(&v, &obj);
        assert_eq!(back.get("operator_namespace"), Some(&s("rook-op")));
    }
}
