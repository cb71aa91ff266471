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

type Columns = Vec<Value>;
type Cells = Vec<Vec<Value>>;

/// The columns named in `spec` (name, type, priority) and one row per object.
fn rows(
    spec: &[(&str, &str, i64)],
    objs: &[Value],
    row: impl Fn(&Value) -> Vec<Value>,
) -> (Columns, Cells) {
    (
        spec.iter().map(|(n, t, p)| col(n, t, *p)).collect(),
        objs.iter().map(row).collect(),
    )
}

fn name(o: &Value) -> Value {
    o["metadata"]["name"].clone()
}

fn created(o: &Value) -> Value {
    json!(age(&o["metadata"]["creationTimestamp"]))
}

/// `ready/desired`, as Deployments and StatefulSets print it.
fn ready_of(o: &Value) -> Value {
    json!(format!(
        "{}/{}",
        n(&o["status"]["readyReplicas"]),
        n(&o["spec"]["replicas"])
    ))
}

fn node_row(o: &Value) -> Vec<Value> {
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
}

fn pod_row(o: &Value) -> Vec<Value> {
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
}

fn service_row(o: &Value) -> Vec<Value> {
    let ports: Vec<String> = o["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
        .collect();
    vec![
        name(o),
        o["spec"]["type"].clone(),
        o["spec"]["clusterIP"].clone(),
        json!("<none>"),
        json!(ports.join(",")),
        created(o),
    ]
}

/// A CRD's additionalPrinterColumns (NAME and AGE when it has none).
fn custom(rt: &ResourceType, objs: &[Value], crd: Option<&Value>) -> (Columns, Cells) {
    let extra: Vec<Value> = crd
        .and_then(|c| {
            c["spec"]["versions"]
                .as_array()
                .and_then(|vs| vs.iter().find(|v| v["name"] == json!(rt.version)))
        })
        .and_then(|v| v["additionalPrinterColumns"].as_array().cloned())
        .unwrap_or_default();
    let mut cols = vec![col("Name", S, 0)];
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
        cols.push(col("Age", S, 0));
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

const S: &str = "string";
const I: &str = "integer";

/// The columns and one row of cells per object.
fn columns_and_cells(rt: &ResourceType, objs: &[Value], crd: Option<&Value>) -> (Columns, Cells) {
    let count = |m: &Value| m.as_object().map(|m| m.len()).unwrap_or(0);
    match rt.kind.as_str() {
        "Node" => rows(
            &[
                ("Name", S, 0),
                ("Status", S, 0),
                ("Roles", S, 0),
                ("Age", S, 0),
                ("Version", S, 0),
            ],
            objs,
            node_row,
        ),
        "Pod" => rows(
            &[
                ("Name", S, 0),
                ("Ready", S, 0),
                ("Status", S, 0),
                ("Restarts", S, 0),
                ("Age", S, 0),
                ("IP", S, 1),
                ("Node", S, 1),
            ],
            objs,
            pod_row,
        ),
        "Namespace" => rows(
            &[("Name", S, 0), ("Status", S, 0), ("Age", S, 0)],
            objs,
            |o| vec![name(o), o["status"]["phase"].clone(), created(o)],
        ),
        "Deployment" => rows(
            &[
                ("Name", S, 0),
                ("Ready", S, 0),
                ("Up-to-date", I, 0),
                ("Available", I, 0),
                ("Age", S, 0),
            ],
            objs,
            |o| {
                let st = &o["status"];
                vec![
                    name(o),
                    ready_of(o),
                    json!(n(&st["updatedReplicas"])),
                    json!(n(&st["availableReplicas"])),
                    created(o),
                ]
            },
        ),
        "StatefulSet" => rows(
            &[("Name", S, 0), ("Ready", S, 0), ("Age", S, 0)],
            objs,
            |o| vec![name(o), ready_of(o), created(o)],
        ),
        "ReplicaSet" => rows(
            &[
                ("Name", S, 0),
                ("Desired", I, 0),
                ("Current", I, 0),
                ("Ready", I, 0),
                ("Age", S, 0),
            ],
            objs,
            |o| {
                vec![
                    name(o),
                    json!(n(&o["spec"]["replicas"])),
                    json!(n(&o["status"]["replicas"])),
                    json!(n(&o["status"]["readyReplicas"])),
                    created(o),
                ]
            },
        ),
        "DaemonSet" => rows(
            &[
                ("Name", S, 0),
                ("Desired", I, 0),
                ("Current", I, 0),
                ("Ready", I, 0),
                ("Up-to-date", I, 0),
                ("Available", I, 0),
                ("Node Selector", S, 0),
                ("Age", S, 0),
            ],
            objs,
            |o| {
                let st = &o["status"];
                let mut cells = vec![name(o)];
                for key in [
                    "desiredNumberScheduled",
                    "currentNumberScheduled",
                    "numberReady",
                    "updatedNumberScheduled",
                    "numberAvailable",
                ] {
                    cells.push(json!(n(&st[key])));
                }
                cells.extend([json!("<none>"), created(o)]);
                cells
            },
        ),
        "Service" => rows(
            &[
                ("Name", S, 0),
                ("Type", S, 0),
                ("Cluster-IP", S, 0),
                ("External-IP", S, 0),
                ("Port(s)", S, 0),
                ("Age", S, 0),
            ],
            objs,
            service_row,
        ),
        "ConfigMap" => rows(
            &[("Name", S, 0), ("Data", I, 0), ("Age", S, 0)],
            objs,
            |o| {
                let d = count(&o["data"]) + count(&o["binaryData"]);
                vec![name(o), json!(d), created(o)]
            },
        ),
        "Secret" => rows(
            &[
                ("Name", S, 0),
                ("Type", S, 0),
                ("Data", S, 0),
                ("Age", S, 0),
            ],
            objs,
            |o| {
                vec![
                    name(o),
                    o["type"].clone(),
                    json!(count(&o["data"])),
                    created(o),
                ]
            },
        ),
        "PersistentVolumeClaim" => rows(
            &[
                ("Name", S, 0),
                ("Status", S, 0),
                ("Volume", S, 0),
                ("Capacity", S, 0),
                ("Access Modes", S, 0),
                ("StorageClass", S, 0),
                ("Age", S, 0),
            ],
            objs,
            |o| {
                vec![
                    name(o),
                    o["status"]["phase"].clone(),
                    json!(o["spec"]["volumeName"].as_str().unwrap_or("")),
                    json!(o["status"]["capacity"]["storage"].as_str().unwrap_or("")),
                    json!(""),
                    cell(&o["spec"]["storageClassName"]),
                    created(o),
                ]
            },
        ),
        _ => custom(rt, objs, crd),
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
