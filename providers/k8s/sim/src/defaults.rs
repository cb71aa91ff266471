//! Defaulting and the validation the simulator does for built-in kinds: the defaults the real
//! API server fills in for the kinds brick writes (pod templates, Deployments, StatefulSets,
//! DaemonSets, Services, Secrets, Namespaces, StorageClasses, PVCs) so that objects read back
//! as they do from a real cluster.

use base64::Engine;
use serde_json::{Value, json};

use crate::error::{ApiError, Cause};
use crate::types::ResourceType;

fn default(v: &mut Value, key: &str, val: Value) {
    if let Some(m) = v.as_object_mut()
        && !m.contains_key(key)
    {
        m.insert(key.into(), val);
    }
}

pub fn apply(rt: &ResourceType, old: Option<&Value>, obj: &mut Value, service_ips: &mut u32) {
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    match rt.kind.as_str() {
        "Namespace" => {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            if old.is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
        }
        "Secret" => {
            default(obj, "type", json!("Opaque"));
            if let Some(sd) = obj.get("stringData").and_then(Value::as_object).cloned() {
                for (k, v) in sd {
                    let enc =
                        base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
                    obj["data"][k] = json!(enc);
                }
                if let Some(m) = obj.as_object_mut() {
                    m.remove("stringData");
                }
            }
        }
        "Service" => {
            let spec = &mut obj["spec"];
            if spec.is_null() {
                *spec = json!({});
            }
            default(spec, "type", json!("ClusterIP"));
            default(spec, "sessionAffinity", json!("None"));
            let headless = spec["clusterIP"] == "None";
            if spec.get("clusterIP").is_none() {
                let ip = match old.and_then(|o| o["spec"]["clusterIP"].as_str()) {
                    Some(ip) => ip.to_string(),
                    None if name == "kubernetes" => "10.96.0.1".into(),
                    None => {
                        *service_ips += 1;
                        format!("10.96.{}.{}", *service_ips / 250, *service_ips % 250 + 2)
                    }
                };
                spec["clusterIP"] = json!(ip);
            }
            if spec.get("clusterIPs").is_none() {
                spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
            }
            default(spec, "ipFamilies", json!(["IPv4"]));
            default(spec, "ipFamilyPolicy", json!("SingleStack"));
            default(spec, "internalTrafficPolicy", json!("Cluster"));
            let _ = headless;
            if let Some(ports) = spec["ports"].as_array_mut() {
                for p in ports {
                    default(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    default(p, "targetPort", port);
                }
            }
            if old.is_none() {
                obj["status"] = json!({"loadBalancer": {}});
            }
        }
        "Pod" => {
            pod_spec(&mut obj["spec"]);
            if old.is_none() {
                default(
                    obj,
                    "status",
                    json!({"phase": "Pending", "qosClass": "BestEffort"}),
                );
            }
        }
        "Deployment" => {
            let spec = &mut obj["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            template(spec);
        }
        "StatefulSet" => {
            let spec = &mut obj["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            template(spec);
        }
        "DaemonSet" => {
            let spec = &mut obj["spec"];
            default(spec, "revisionHistoryLimit", json!(10));
            default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            template(spec);
        }
        "ReplicaSet" | "Job" => template(&mut obj["spec"]),
        "StorageClass" => {
            default(obj, "reclaimPolicy", json!("Delete"));
            default(obj, "volumeBindingMode", json!("Immediate"));
        }
        "PersistentVolumeClaim" => {
            default(&mut obj["spec"], "volumeMode", json!("Filesystem"));
            if old.is_none() {
                obj["status"] = json!({"phase": "Pending"});
            }
        }
        _ => {}
    }
}

fn template(spec: &mut Value) {
    if spec["template"].is_object() {
        pod_spec(&mut spec["template"]["spec"]);
    }
}

fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec[list].as_array_mut() {
            for c in cs {
                default(c, "terminationMessagePath", json!("/dev/termination-log"));
                default(c, "terminationMessagePolicy", json!("File"));
                default(c, "resources", json!({}));
                let image = c["image"].as_str().unwrap_or("").to_string();
                let tag = image.rsplit('/').next().unwrap_or("");
                let pinned = tag.contains('@') || (tag.contains(':') && !tag.ends_with(":latest"));
                default(
                    c,
                    "imagePullPolicy",
                    json!(if pinned { "IfNotPresent" } else { "Always" }),
                );
                if let Some(ps) = c["ports"].as_array_mut() {
                    for p in ps {
                        default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

/// The validation the simulator does for built-ins: what brick's waits and kubectl's messages
/// depend on (required selectors and templates of workloads, a pod's containers).
pub fn validate(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let mut causes = Vec::new();
    match rt.kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            if obj["spec"]["selector"].is_null() {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    "spec.selector",
                    "Required value",
                ));
            } else {
                let sel = crate::selector::LabelSelector::from_object(&obj["spec"]["selector"]);
                if !sel.matches(obj["spec"]["template"]["metadata"].get("labels")) {
                    causes.push(Cause::new(
                        "FieldValueInvalid",
                        "spec.template.metadata.labels",
                        format!(
                            "Invalid value: {}: `selector` does not match template `labels`",
                            serde_json::to_string(&obj["spec"]["template"]["metadata"]["labels"])
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            if obj["spec"]["template"]["spec"]["containers"]
                .as_array()
                .is_none_or(Vec::is_empty)
            {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    "spec.template.spec.containers",
                    "Required value",
                ));
            }
        }
        "Pod"
            if obj["spec"]["containers"]
                .as_array()
                .is_none_or(Vec::is_empty) =>
        {
            causes.push(Cause::new(
                "FieldValueRequired",
                "spec.containers",
                "Required value",
            ));
        }
        "ConfigMap" | "Secret" => {
            for section in ["data", "binaryData"] {
                if let Some(m) = obj[section].as_object() {
                    for k in m.keys() {
                        let ok = !k.is_empty()
                            && k.len() <= 253
                            && k.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                        if !ok {
                            causes.push(Cause::new(
                                "FieldValueInvalid",
                                format!("{section}[{k}]"),
                                format!("Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"),
                            ));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.kind, &rt.group, name, causes))
    }
}
