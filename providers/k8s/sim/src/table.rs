//! Server-side printing (`Accept: …;as=Table;g=meta.k8s.io;v=v1`), which `kubectl get` asks
//! for: the columns the real server prints for Nodes, Pods, Namespaces, Deployments,
//! StatefulSets, DaemonSets, ReplicaSets, Services, PVCs and ConfigMaps, a CRD's
//! additionalPrinterColumns, and NAME and AGE for the rest.

use serde_json::{Value, json};

use crate::types::ResourceType;

fn age(ts: &Value) -> String {
    let Some(t) = ts.as_str().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    }) else {
        return "<unknown>".into();
    };
    let secs = (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    // kubectl's HumanDuration, shortened.
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn col(name: &str, ty: &str, priority: i64) -> Value {
    let mut c =
        json!({"name": name, "type": ty, "format": "", "description": "", "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn jsonpath(obj: &Value, path: &str) -> Value {
    let mut cur = obj;
    for seg in path.trim_start_matches('.').split('.') {
        if seg.is_empty() {
            continue;
        }
        cur = &cur[seg];
    }
    cur.clone()
}

fn cell(v: &Value) -> Value {
    match v {
        Value::Null => json!("<none>"),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

/// The columns and one row of cells per object.
fn columns_and_cells(
    rt: &ResourceType,
    objs: &[Value],
    crd: Option<&Value>,
) -> (Vec<Value>, Vec<Vec<Value>>) {
    let name = |o: &Value| o["metadata"]["name"].clone();
    let created = |o: &Value| json!(age(&o["metadata"]["creationTimestamp"]));
    match rt.kind.as_str() {
        "Node" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    let ready = o["status"]["conditions"]
                        .as_array()
                        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                        .map(|c| c["status"] == "True")
                        .unwrap_or(false);
                    let mut status = if ready {
                        "Ready".to_string()
                    } else {
                        "NotReady".to_string()
                    };
                    if o["spec"]["unschedulable"] == json!(true) {
                        status.push_str(",SchedulingDisabled");
                    }
                    let roles: Vec<String> = o["metadata"]["labels"]
                        .as_object()
                        .map(|l| {
                            l.keys()
                                .filter_map(|k| {
                                    k.strip_prefix("node-role.kubernetes.io/")
                                        .map(str::to_string)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let roles = if roles.is_empty() {
                        "<none>".to_string()
                    } else {
                        roles.join(",")
                    };
                    vec![
                        name(o),
                        json!(status),
                        json!(roles),
                        created(o),
                        o["status"]["nodeInfo"]["kubeletVersion"].clone(),
                    ]
                })
                .collect(),
        ),
        "Pod" => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
            ],
            objs.iter()
                .map(|o| {
                    let total = o["spec"]["containers"]
                        .as_array()
                        .map(Vec::len)
                        .unwrap_or(0);
                    let ready = o["status"]["containerStatuses"]
                        .as_array()
                        .map(|c| c.iter().filter(|c| c["ready"] == json!(true)).count())
                        .unwrap_or(0);
                    let phase = if o["metadata"].get("deletionTimestamp").is_some() {
                        json!("Terminating")
                    } else {
                        o["status"]["phase"].clone()
                    };
                    vec![
                        name(o),
                        json!(format!("{ready}/{total}")),
                        phase,
                        json!("0"),
                        created(o),
                        cell(&o["status"]["podIP"]),
                        cell(&o["spec"]["nodeName"]),
                    ]
                })
                .collect(),
        ),
        "Namespace" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| vec![name(o), o["status"]["phase"].clone(), created(o)])
                .collect(),
        ),
        "Deployment" => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        json!(format!(
                            "{}/{}",
                            n(&o["status"]["readyReplicas"]),
                            n(&o["spec"]["replicas"])
                        )),
                        json!(n(&o["status"]["updatedReplicas"])),
                        json!(n(&o["status"]["availableReplicas"])),
                        created(o),
                    ]
                })
                .collect(),
        ),
        "StatefulSet" => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        json!(format!(
                            "{}/{}",
                            n(&o["status"]["readyReplicas"]),
                            n(&o["spec"]["replicas"])
                        )),
                        created(o),
                    ]
                })
                .collect(),
        ),
        "ReplicaSet" => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        json!(n(&o["spec"]["replicas"])),
                        json!(n(&o["status"]["replicas"])),
                        json!(n(&o["status"]["readyReplicas"])),
                        created(o),
                    ]
                })
                .collect(),
        ),
        "DaemonSet" => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Node Selector", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    let st = &o["status"];
                    vec![
                        name(o),
                        json!(n(&st["desiredNumberScheduled"])),
                        json!(n(&st["currentNumberScheduled"])),
                        json!(n(&st["numberReady"])),
                        json!(n(&st["updatedNumberScheduled"])),
                        json!(n(&st["numberAvailable"])),
                        json!("<none>"),
                        created(o),
                    ]
                })
                .collect(),
        ),
        "Service" => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    let ports: Vec<String> = o["spec"]["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                        })
                        .collect();
                    vec![
                        name(o),
                        o["spec"]["type"].clone(),
                        o["spec"]["clusterIP"].clone(),
                        json!("<none>"),
                        json!(ports.join(",")),
                        created(o),
                    ]
                })
                .collect(),
        ),
        "ConfigMap" => (
            vec![
                col("Name", "string", 0),
                col("Data", "integer", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    let d = o["data"].as_object().map(|m| m.len()).unwrap_or(0)
                        + o["binaryData"].as_object().map(|m| m.len()).unwrap_or(0);
                    vec![name(o), json!(d), created(o)]
                })
                .collect(),
        ),
        "Secret" => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Data", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    let d = o["data"].as_object().map(|m| m.len()).unwrap_or(0);
                    vec![name(o), o["type"].clone(), json!(d), created(o)]
                })
                .collect(),
        ),
        "PersistentVolumeClaim" => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Volume", "string", 0),
                col("Capacity", "string", 0),
                col("Access Modes", "string", 0),
                col("StorageClass", "string", 0),
                col("Age", "string", 0),
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        o["status"]["phase"].clone(),
                        json!(o["spec"]["volumeName"].as_str().unwrap_or("")),
                        json!(o["status"]["capacity"]["storage"].as_str().unwrap_or("")),
                        json!(""),
                        cell(&o["spec"]["storageClassName"]),
                        created(o),
                    ]
                })
                .collect(),
        ),
        _ => {
            let extra: Vec<Value> = crd
                .and_then(|c| {
                    c["spec"]["versions"]
                        .as_array()
                        .and_then(|vs| vs.iter().find(|v| v["name"] == json!(rt.version)))
                })
                .and_then(|v| v["additionalPrinterColumns"].as_array().cloned())
                .unwrap_or_default();
            let mut cols = vec![col("Name", "string", 0)];
            for e in &extra {
                let ty = e["type"].as_str().unwrap_or("string");
                let ty = if ty == "date" { "string" } else { ty };
                cols.push(col(
                    e["name"].as_str().unwrap_or(""),
                    ty,
                    e["priority"].as_i64().unwrap_or(0),
                ));
            }
            if extra.is_empty() {
                cols.push(col("Age", "string", 0));
            }
            let rows = objs
                .iter()
                .map(|o| {
                    let mut cells = vec![name(o)];
                    for e in &extra {
                        let v = jsonpath(o, e["jsonPath"].as_str().unwrap_or(""));
                        cells.push(if e["type"] == "date" {
                            json!(age(&v))
                        } else {
                            cell(&v)
                        });
                    }
                    if extra.is_empty() {
                        cells.push(created(o));
                    }
                    cells
                })
                .collect();
            (cols, rows)
        }
    }
}

/// A `meta.k8s.io/v1` Table of the objects.
pub fn table(rt: &ResourceType, objs: &[Value], rv: u64, crd: Option<&Value>) -> Value {
    let (cols, cells) = columns_and_cells(rt, objs, crd);
    let rows: Vec<Value> = cells
        .into_iter()
        .zip(objs)
        .map(|(c, o)| {
            json!({"cells": c, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"]}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()}, "columnDefinitions": cols, "rows": rows})
}
