//! The HTTP face of the simulator: routing of the Kubernetes REST paths
//! (`/api/v1/namespaces/<ns>/<plural>/<name>/<subresource>`, `/apis/<group>/<version>/…`),
//! authentication (client certificate or bearer token), the verbs (get, list, watch, create,
//! update, patch, delete, deletecollection), query parameters (dryRun, fieldManager, force,
//! fieldValidation, labelSelector, fieldSelector, resourceVersion, timeoutSeconds, limit) and
//! the JSON and watch-stream bodies.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::discovery;
use crate::error::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, EventType, PatchType, Propagation, Store, WriteOptions};
use crate::types::ResourceType;

/// Who may call: bearer tokens (any client with a certificate the TLS layer verified is let in).
#[derive(Clone, Default)]
pub struct Auth {
    pub tokens: Vec<String>,
    /// When false (plain HTTP in tests), every request is allowed.
    pub required: bool,
}

/// Marks a request whose TLS client certificate was verified.
#[derive(Clone, Copy, Debug)]
pub struct ClientCertVerified;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub addr: String,
    pub faults: Arc<crate::faults::Injector>,
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_default()
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

/// A resource request, parsed from the path.
struct Target {
    rt: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    Root,
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    GroupVersion(String, String),
    OpenApiV3(String),
    OpenApiV2,
    Resource(Box<Target>),
    /// `/api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port>]/proxy/<path>`.
    ServiceProxy {
        namespace: String,
        service: String,
        path: String,
    },
    NotFound,
}

fn route(store: &Store, path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        [] => return Route::Root,
        ["version"] => return Route::Version,
        ["healthz" | "livez" | "readyz", ..] => return Route::Health,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["openapi", "v3"] => return Route::OpenApiV3(String::new()),
        ["openapi", "v3", rest @ ..] => return Route::OpenApiV3(rest.join("/")),
        ["openapi", "v2"] => return Route::OpenApiV2,
        ["api", "v1"] => return Route::GroupVersion(String::new(), "v1".into()),
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "services",
            svc,
            "proxy",
            rest @ ..,
        ] => {
            return Route::ServiceProxy {
                namespace: ns.to_string(),
                service: svc.to_string(),
                path: format!("/{}", rest.join("/")),
            };
        }
        ["apis", g] => return Route::Group(g.to_string()),
        ["apis", g, v] => return Route::GroupVersion(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    let find = |plural: &str| store.resource_at(group, version, plural);
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !(rest.len() == 3 && (*plural == "status" || *plural == "finalize")) =>
        {
            let Some(rt) = find(plural) else {
                return Route::NotFound;
            };
            Target {
                rt,
                namespace: Some(ns.to_string()),
                name: tail.first().map(|s| s.to_string()),
                sub: tail.get(1).map(|s| s.to_string()),
            }
        }
        [plural, tail @ ..] => {
            let Some(rt) = find(plural) else {
                return Route::NotFound;
            };
            Target {
                rt,
                namespace: None,
                name: tail.first().map(|s| s.to_string()),
                sub: tail.get(1).map(|s| s.to_string()),
            }
        }
        [] => return Route::NotFound,
    };
    if target.rt.namespaced && target.name.is_some() && target.namespace.is_none() {
        return Route::NotFound;
    }
    if let Some(sub) = &target.sub
        && !target.rt.subresources.contains(sub)
    {
        return Route::NotFound;
    }
    Route::Resource(Box::new(target))
}

fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn truthy(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "1" || v == "true")
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.contains("protobuf") {
        return crate::protobuf::to_json(body)
            .map_err(|m| ApiError::new(415, "UnsupportedMediaType", m));
    }
    if ctype.contains("cbor") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        ));
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    if ct.contains("yaml") {
        return crate::yaml::to_json(text).map_err(ApiError::bad_request);
    }
    Err(ApiError::bad_request(format!(
        "couldn't get version/kind; json parse error: {}",
        serde_json::from_slice::<Value>(body)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    )))
}

/// The list kind of a type; items of built-in lists carry no kind (as the typed server does).
fn list_doc(rt: &ResourceType, items: Vec<Value>, rv: u64) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if rt.crd.is_none()
                && let Some(m) = i.as_object_mut()
            {
                m.remove("apiVersion");
                m.remove("kind");
            }
            i
        })
        .collect();
    json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": rv.to_string()}, "items": items})
}

pub async fn handle(app: App, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let authed = !app.auth.required
        || parts.extensions.get::<ClientCertVerified>().is_some()
        || parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| app.auth.tokens.iter().any(|k| k == t.trim()));
    if !authed {
        return json_response(
            401,
            &ApiError::new(401, "Unauthorized", "Unauthorized").status(),
        );
    }
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return error_response(&ApiError::bad_request("the body could not be read")),
    };
    let latency = app.faults.faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // A watch is a long-lived stream whose own restarts the client handles; faults are
    // injected into the requests that answer at once.
    let watch = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    if !watch && let Some((code, status)) = app.faults.fault() {
        let mut r = json_response(code, &status);
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return r;
    }
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    let types = || app.store.types();
    let path = parts.uri.path().to_string();
    match route(&app.store, &path) {
        Route::Root => json_response(
            200,
            &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]}),
        ),
        Route::Version => json_response(
            200,
            &json!({"major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
                "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
                "gitVersion": "v1.36.3-brick-lab", "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "none",
                "compiler": "brick", "platform": "linux/amd64"}),
        ),
        Route::Health => Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("ok"))
            .unwrap_or_default(),
        Route::CoreVersions if aggregated => {
            aggregated_response(discovery::aggregated(&types(), true))
        }
        Route::CoreVersions => json_response(200, &discovery::api_versions(&app.addr)),
        Route::Groups if aggregated => aggregated_response(discovery::aggregated(&types(), false)),
        Route::Groups => json_response(200, &discovery::api_group_list(&types())),
        Route::Group(g) => match discovery::api_group(&types(), &g) {
            Some(d) => json_response(200, &d),
            None => not_found_page(),
        },
        Route::GroupVersion(g, v) => match discovery::resource_list(&types(), &g, &v) {
            Some(d) => json_response(200, &d),
            None => not_found_page(),
        },
        Route::OpenApiV3(gv) if gv.is_empty() => json_response(
            200,
            &crate::openapi::index(&types(), app.store.types_version()),
        ),
        Route::OpenApiV3(gv) => match crate::openapi::group_version(&types(), &gv) {
            Some(d) => json_response(200, &d),
            None => not_found_page(),
        },
        Route::OpenApiV2 | Route::NotFound => not_found_page(),
        Route::ServiceProxy {
            namespace,
            service,
            path,
        } => match service_proxy(&app.store, &parts.method, &namespace, &service, &path) {
            Ok(r) => r,
            Err(e) => error_response(&e),
        },
        Route::Resource(t) => {
            let q = query(&parts.uri);
            let ua = parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match resource(&app, *t, &parts.method, &parts.headers, &q, &body, ua).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            }
        }
    }
}

/// The API server's service proxy, as kube-apiserver resolves it: `[<scheme>:]<name>[:<port>]`
/// names the Service and its port (by name or number; none: the only one), and the request
/// goes to what a controller serves there ([`crate::Cluster::serve`]). A Service that does not
/// exist is 404; one nothing serves is 503 "no endpoints available", a port it lacks (when
/// another port is served) 503 "no service port"; the words are kube-apiserver 1.36's. GET only.
fn service_proxy(
    store: &Store,
    method: &Method,
    ns: &str,
    spec: &str,
    path: &str,
) -> Result<Response<Body>, ApiError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [name] => (*name, ""),
        [name, port] => (*name, *port),
        [_scheme, name, port] => (*name, *port),
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid service request {spec:?}"
            )));
        }
    };
    if method != Method::GET {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the lab's service proxy serves GET only, not {method}"),
        ));
    }
    let rt = store
        .resource("", "services")
        .ok_or_else(|| ApiError::not_found("services", "", name))?;
    let svc = store.get(&rt, ns, name)?;
    let ports: Vec<&Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let chosen = if port.is_empty() {
        ports.first().filter(|_| ports.len() == 1).copied()
    } else {
        ports
            .iter()
            .find(|p| {
                p["name"] == port
                    || p["port"].as_u64().map(|n| n.to_string()).as_deref() == Some(port)
            })
            .copied()
    };
    let no_endpoints = || {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service {name:?}"),
        )
    };
    // kube-apiserver looks at the endpoints first, then for the port among them.
    if !store.has_backends(ns, name) {
        return Err(no_endpoints());
    }
    let Some(chosen) = chosen else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no service port {port:?} found for service {name:?}"),
        ));
    };
    let port_name = chosen["name"].as_str().unwrap_or("");
    let Some(backend) = store.backend(ns, name, port_name) else {
        return Err(no_endpoints());
    };
    let reply = backend(path);
    Ok(Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY))
        .header(header::CONTENT_TYPE, reply.content_type)
        .body(Body::from(reply.body))
        .unwrap_or_default())
}

fn aggregated_response(v: Value) -> Response<Body> {
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .body(Body::from(serde_json::to_vec(&v).unwrap_or_default()))
        .unwrap_or_default()
}

fn not_found_page() -> Response<Body> {
    json_response(
        404,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server could not find the requested resource", "reason": "NotFound",
            "details": {}, "code": 404}),
    )
}

fn write_options(q: &HashMap<String, String>, ua: Option<String>) -> WriteOptions {
    WriteOptions {
        dry_run: q.get("dryRun").is_some_and(|v| v == "All"),
        field_manager: q.get("fieldManager").cloned(),
        field_validation: q.get("fieldValidation").cloned(),
        force: truthy(q, "force"),
        user_agent: ua,
    }
}

async fn resource(
    app: &App,
    t: Target,
    method: &Method,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &Bytes,
    ua: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let store = &app.store;
    let rt = &t.rt;
    let ns = t.namespace.clone().unwrap_or_default();
    if let Some(dr) = q.get("dryRun")
        && dr != "All"
    {
        return Err(ApiError::bad_request(format!(
            "Unsupported value: \"{dr}\": supported values: \"All\""
        )));
    }
    let opts = write_options(q, ua);
    match (method.clone(), t.name.as_deref(), t.sub.as_deref()) {
        (Method::GET, None, _) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))?;
            let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s), &rt.kind)?;
            let ns_filter = t.namespace.as_deref().filter(|_| rt.namespaced);
            if truthy(q, "watch") {
                return Ok(watch(
                    app,
                    rt.clone(),
                    ns_filter.map(str::to_string),
                    None,
                    labels,
                    fields,
                    q,
                ));
            }
            let (items, rv) = store.list(rt, ns_filter, &labels, &fields);
            let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
            let start: usize = q
                .get("continue")
                .and_then(|c| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(c).ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let total = items.len();
            let page: Vec<Value> = if limit > 0 {
                items.into_iter().skip(start).take(limit).collect()
            } else {
                items
            };
            if wants_table(headers) {
                return Ok(table_response(store, rt, &page, rv));
            }
            let mut doc = list_doc(rt, page, rv);
            if limit > 0 && start + limit < total {
                use base64::Engine;
                doc["metadata"]["continue"] = json!(
                    base64::engine::general_purpose::STANDARD.encode((start + limit).to_string())
                );
                doc["metadata"]["remainingItemCount"] = json!(total - start - limit);
            }
            Ok(json_response(200, &doc))
        }
        (Method::GET, Some(name), None | Some("status")) => {
            if truthy(q, "watch") {
                let labels = LabelSelector::default();
                let fields = FieldSelector::default();
                return Ok(watch(
                    app,
                    rt.clone(),
                    t.namespace.clone(),
                    Some(name.to_string()),
                    labels,
                    fields,
                    q,
                ));
            }
            let o = store.get(rt, &ns, name)?;
            if wants_table(headers) && t.sub.is_none() {
                return Ok(table_response(
                    store,
                    rt,
                    std::slice::from_ref(&o),
                    store.resource_version(),
                ));
            }
            Ok(json_response(200, &o))
        }
        (Method::GET, Some(name), Some("scale")) => {
            let o = store.get(rt, &ns, name)?;
            Ok(json_response(200, &scale_of(&o)))
        }
        (Method::POST, None, None) => {
            let obj = parse_body(headers, body)?;
            let created = store.create(rt, &ns, obj, &opts)?;
            Ok(json_response(201, &created))
        }
        (Method::POST, Some(name), Some("eviction")) => {
            let ev = parse_body(headers, body)?;
            crate::controllers::evict(store, &ns, name, &ev)?;
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Method::PUT, Some(name), sub @ (None | Some("status") | Some("finalize"))) => {
            let obj = parse_body(headers, body)?;
            let existed = store.get(rt, &ns, name).is_ok();
            let sub = if sub == Some("finalize") {
                Some("finalize")
            } else {
                sub
            };
            let out = store.update(rt, &ns, name, obj, sub, &opts)?;
            Ok(json_response(if existed { 200 } else { 201 }, &out))
        }
        (Method::PUT | Method::PATCH, Some(name), Some("scale")) => {
            let b = parse_body(headers, body)?;
            let replicas = b["spec"]["replicas"].clone();
            let p = json!({"spec": {"replicas": replicas}});
            let (o, _) = store.patch(rt, &ns, name, PatchType::Merge, &p, None, &opts)?;
            Ok(json_response(200, &scale_of(&o)))
        }
        (Method::PATCH, Some(name), sub @ (None | Some("status"))) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ptype = if ct.starts_with("application/apply-patch") {
                PatchType::Apply
            } else if ct.starts_with("application/json-patch+json") {
                PatchType::Json
            } else if ct.starts_with("application/merge-patch+json") {
                PatchType::Merge
            } else if ct.starts_with("application/strategic-merge-patch+json") {
                PatchType::Strategic
            } else {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            };
            let b = parse_body(headers, body)?;
            if ptype != PatchType::Apply && opts.force {
                return Err(ApiError::bad_request(
                    "force may not be specified for non-apply patch",
                ));
            }
            let (o, created) = store.patch(rt, &ns, name, ptype, &b, sub, &opts)?;
            Ok(json_response(if created { 201 } else { 200 }, &o))
        }
        (Method::DELETE, Some(name), None) => {
            let b = parse_body(headers, body).unwrap_or(Value::Null);
            let dopts = delete_options(q, &b)?;
            let (o, gone) = store.delete(rt, &ns, name, &dopts)?;
            if gone
                && rt.crd.is_none()
                && !matches!(
                    rt.kind.as_str(),
                    "Pod"
                        | "Namespace"
                        | "Service"
                        | "Deployment"
                        | "StatefulSet"
                        | "DaemonSet"
                        | "ReplicaSet"
                        | "Job"
                        | "Node"
                        | "PersistentVolumeClaim"
                        | "PersistentVolume"
                        | "CustomResourceDefinition"
                )
            {
                let mut d = json!({"name": name});
                if !rt.group.is_empty() {
                    d["group"] = json!(rt.group);
                }
                d["kind"] = json!(rt.plural);
                d["uid"] = o["metadata"]["uid"].clone();
                return Ok(json_response(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "details": d}),
                ));
            }
            // 202 only when the (deprecated) orphanDependents=false asked for cascading.
            let accepted = !gone && b["orphanDependents"] == json!(false);
            Ok(json_response(if accepted { 202 } else { 200 }, &o))
        }
        (Method::DELETE, None, None) => {
            let b = parse_body(headers, body).unwrap_or(Value::Null);
            let dopts = delete_options(q, &b)?;
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))?;
            let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s), &rt.kind)?;
            let ns_filter = t.namespace.as_deref().filter(|_| rt.namespaced);
            let (items, rv) = store.list(rt, ns_filter, &labels, &fields);
            let mut out = Vec::new();
            for i in items {
                let n = i["metadata"]["name"].as_str().unwrap_or("").to_string();
                let ins = i["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if let Ok((o, _)) = store.delete(rt, &ins, &n, &dopts) {
                    out.push(o);
                }
            }
            Ok(json_response(200, &list_doc(rt, out, rv)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

fn table_response(store: &Store, rt: &ResourceType, objs: &[Value], rv: u64) -> Response<Body> {
    let crd = rt.crd.as_ref().and_then(|name| {
        store
            .resource("apiextensions.k8s.io", "customresourcedefinitions")
            .and_then(|crt| store.get(&crt, "", name).ok())
    });
    let t = crate::table::table(rt, objs, rv, crd.as_ref());
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .body(Body::from(serde_json::to_vec(&t).unwrap_or_default()))
        .unwrap_or_default()
}

fn delete_options(q: &HashMap<String, String>, b: &Value) -> Result<DeleteOptions, ApiError> {
    let prop = q
        .get("propagationPolicy")
        .cloned()
        .or_else(|| b["propagationPolicy"].as_str().map(str::to_string))
        .or_else(|| {
            b["orphanDependents"].as_bool().map(|o| {
                if o {
                    "Orphan".into()
                } else {
                    "Background".into()
                }
            })
        });
    let propagation = match prop.as_deref() {
        None => None,
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry = q.get("dryRun").is_some_and(|v| v == "All")
        || b["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run: dry,
        propagation,
        precondition_uid: b["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_rv: b["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
    })
}

fn scale_of(o: &Value) -> Value {
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
            "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
            "creationTimestamp": o["metadata"]["creationTimestamp"]},
        "spec": {"replicas": o["spec"]["replicas"]},
        "status": {"replicas": o["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_string(&o["spec"]["selector"])}})
}

fn selector_string(sel: &Value) -> String {
    sel["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A watch: newline-delimited JSON events, starting from the given resourceVersion (or with
/// the current objects as ADDED events), until the timeout or the client leaves.
fn watch(
    app: &App,
    rt: ResourceType,
    ns: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let store = app.store.clone();
    let mut rx = store.subscribe();
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let bookmarks = truthy(q, "allowWatchBookmarks");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(256);
    let matches = {
        let rt = rt.clone();
        let ns = ns.clone();
        let name = name.clone();
        move |group: &str, resource: &str, o: &Value| {
            group == rt.group
                && resource == rt.plural
                && ns
                    .as_deref()
                    .is_none_or(|n| o["metadata"]["namespace"].as_str() == Some(n))
                && name
                    .as_deref()
                    .is_none_or(|n| o["metadata"]["name"].as_str() == Some(n))
                && labels.matches(o["metadata"].get("labels"))
                && fields.matches(o)
        }
    };
    let line = |kind: &str, mut obj: Value, rt: &ResourceType| -> Bytes {
        obj["apiVersion"] = json!(rt.api_version());
        let mut v = serde_json::to_vec(&json!({"type": kind, "object": obj})).unwrap_or_default();
        v.push(b'\n');
        Bytes::from(v)
    };
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut last;
        let initial: Vec<(String, Value, u64)> = if rv_param.is_empty()
            || rv_param == "0"
            || send_initial
        {
            let (items, rv) = store.list(
                &rt,
                None,
                &LabelSelector::default(),
                &FieldSelector::default(),
            );
            last = rv;
            items
                .into_iter()
                .filter(|o| matches(&rt.group, &rt.plural, o))
                .map(|o| ("ADDED".to_string(), o, rv))
                .collect()
        } else {
            let from: u64 = rv_param.parse().unwrap_or(0);
            match store.events_since(from) {
                Some(evs) => {
                    last = from;
                    evs.into_iter()
                        .filter(|e| matches(&e.group, &e.resource, &e.object))
                        .map(|e| (e.kind.as_str().to_string(), e.object, e.resource_version))
                        .collect()
                }
                None => {
                    let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                        "metadata": {}, "status": "Failure",
                        "message": format!("too old resource version: {from} ({})", store.resource_version()),
                        "reason": "Expired", "code": 410}});
                    let mut v = serde_json::to_vec(&gone).unwrap_or_default();
                    v.push(b'\n');
                    let _ = tx.send(Bytes::from(v)).await;
                    return;
                }
            }
        };
        for (k, o, rv) in initial {
            last = last.max(rv);
            if tx.send(line(&k, o, &rt)).await.is_err() {
                return;
            }
        }
        if send_initial || bookmarks {
            let bm = json!({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": store.resource_version().max(last).to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}});
            let mut v = serde_json::to_vec(&bm).unwrap_or_default();
            v.push(b'\n');
            if send_initial && tx.send(Bytes::from(v)).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
                ev = rx.recv() => match ev {
                    Ok(e) => {
                        if e.resource_version <= last || !matches(&e.group, &e.resource, &e.object) {
                            continue;
                        }
                        let k = match e.kind { EventType::Added => "ADDED", EventType::Modified => "MODIFIED", EventType::Deleted => "DELETED" };
                        if tx.send(line(k, e.object, &rt)).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        }
    });
    let stream = futures::stream::unfold(out, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}
