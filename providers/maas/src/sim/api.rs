//! The simulator's HTTP face: the handler table (which also generates `GET describe/`), OAuth
//! 1.0 PLAINTEXT checking, `op=` dispatch, fault injection, and MAAS's plain-text errors.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value as Json, json};

use super::Shared;
use super::params::{Params, parse_body};
use super::storage::{Member, parse_size};
use super::world::{SimError, World};

/// The API's root path.
pub const API_ROOT: &str = "/MAAS/api/2.0/";

/// One action of a handler: an HTTP method plus an optional `op`.
pub struct Action {
    pub method: &'static str,
    pub op: Option<&'static str>,
    pub name: &'static str,
    pub doc: &'static str,
}

/// One handler: a URI template under [`API_ROOT`] and its actions.
pub struct Handler {
    pub name: &'static str,
    pub path: &'static str,
    pub params: &'static [&'static str],
    pub anonymous: bool,
    pub doc: &'static str,
    pub actions: &'static [Action],
}

const fn a(
    method: &'static str,
    op: Option<&'static str>,
    name: &'static str,
    doc: &'static str,
) -> Action {
    Action {
        method,
        op,
        name,
        doc,
    }
}

/// Everything the simulator serves. `describe/` is generated from this table.
pub static HANDLERS: &[Handler] = &[
    Handler {
        name: "VersionHandler",
        path: "version/",
        params: &[],
        anonymous: true,
        doc: "Information about this MAAS instance: version, subversion and capabilities.",
        actions: &[a(
            "GET",
            None,
            "read",
            "Read the MAAS version and its capabilities.",
        )],
    },
    Handler {
        name: "UsersHandler",
        path: "users/",
        params: &[],
        anonymous: false,
        doc: "Manage the user accounts of this MAAS.",
        actions: &[
            a("GET", None, "read", "List users."),
            a(
                "GET",
                Some("whoami"),
                "whoami",
                "Returns the currently logged in user.",
            ),
        ],
    },
    Handler {
        name: "MaasHandler",
        path: "maas/",
        params: &[],
        anonymous: false,
        doc: "Manage the MAAS server.",
        actions: &[a(
            "GET",
            Some("get_config"),
            "get_config",
            "Get a configuration value.\n\n:param name: The name of the configuration item.",
        )],
    },
    Handler {
        name: "MachinesHandler",
        path: "machines/",
        params: &[],
        anonymous: false,
        doc: "Manage the collection of all the machines in the MAAS.",
        actions: &[
            a(
                "GET",
                None,
                "read",
                "List machines visible to the user, optionally filtered.\n\n:param hostname: Only machines with these hostnames.\n:param id: Only machines with these system ids.\n:param mac_address: Only machines with these MAC addresses.\n:param tags: Only machines with all these tags.\n:param status: Only machines in these statuses.\n:param pool: Only machines in these resource pools.\n:param zone: Only machines in these zones.",
            ),
            a(
                "POST",
                Some("allocate"),
                "allocate",
                "Allocate an available machine for deployment.\n\nConstraints: name, system_id, cpu_count, mem, tags, not_tags, zone, pool, agent_name, comment.\n\nReturns 409 if no machine matching the constraints could be found.",
            ),
            a(
                "POST",
                Some("release"),
                "release",
                "Release multiple machines.\n\n:param machines: A list of system_ids of the machines to release.",
            ),
            a(
                "GET",
                Some("list_allocated"),
                "list_allocated",
                "List machines allocated to the user.",
            ),
        ],
    },
    Handler {
        name: "MachineHandler",
        path: "machines/{system_id}/",
        params: &["system_id"],
        anonymous: false,
        doc: "Manage an individual machine.\n\nThe machine is identified by its system_id.",
        actions: &[
            a("GET", None, "read", "Read a machine."),
            a(
                "PUT",
                None,
                "update",
                "Update a machine: hostname, description, pool, zone.",
            ),
            a("DELETE", None, "delete", "Delete a machine."),
            a(
                "POST",
                Some("deploy"),
                "deploy",
                "Deploy an operating system to a machine.\n\n:param user_data: base64-encoded user data (cloud-init) for the deployed machine.\n:param distro_series: The OS release to deploy.\n:param hwe_kernel: The kernel to deploy.\n:param agent_name: An optional agent name.\n:param comment: An optional comment for the event log.\n\nReturns 409 if the machine is in a state that cannot be deployed.",
            ),
            a(
                "POST",
                Some("release"),
                "release",
                "Release a machine; opposite of allocate.\n\n:param erase: Erase the disks when releasing.\n:param secure_erase: Use the drives' secure erase feature.\n:param quick_erase: Wipe only the start and end of each disk.\n:param force: Force the release.\n:param comment: An optional comment for the event log.",
            ),
            a(
                "POST",
                Some("commission"),
                "commission",
                "Begin commissioning a machine: New -> Commissioning -> Testing -> Ready.\n\n:param skip_storage: Keep the current storage configuration.",
            ),
            a(
                "POST",
                Some("abort"),
                "abort",
                "Abort the machine's current operation.",
            ),
            a(
                "POST",
                Some("set_storage_layout"),
                "set_storage_layout",
                "Change the storage layout of a machine. Only while the machine is Ready.\n\n:param storage_layout: flat, lvm, bcache or blank.\n:param boot_size: Size of the boot partition.\n:param root_size: Size of the root partition.\n:param root_device: Block device id to place the root on.\n:param vg_name: Name of the volume group (lvm).\n:param lv_name: Name of the root logical volume (lvm).\n:param lv_size: Size of the root logical volume (lvm).",
            ),
            a("POST", Some("power_on"), "power_on", "Power on a machine."),
            a(
                "POST",
                Some("power_off"),
                "power_off",
                "Power off a machine.",
            ),
            a(
                "GET",
                Some("query_power_state"),
                "query_power_state",
                "Query the power state of a machine.",
            ),
            a(
                "POST",
                Some("set_owner_data"),
                "set_owner_data",
                "Set key/value data of the machine's owner; an empty value removes a key. Cleared on release.",
            ),
            a(
                "POST",
                Some("mark_broken"),
                "mark_broken",
                "Mark a machine as Broken.",
            ),
            a(
                "POST",
                Some("mark_fixed"),
                "mark_fixed",
                "Mark a broken machine as fixed.",
            ),
        ],
    },
    Handler {
        name: "BlockDevicesHandler",
        path: "nodes/{system_id}/blockdevices/",
        params: &["system_id"],
        anonymous: false,
        doc: "Manage the block devices of a machine.",
        actions: &[a(
            "GET",
            None,
            "read",
            "List the block devices of a machine.",
        )],
    },
    Handler {
        name: "BlockDeviceHandler",
        path: "nodes/{system_id}/blockdevices/{id}/",
        params: &["system_id", "id"],
        anonymous: false,
        doc: "Manage one block device of a machine.",
        actions: &[
            a("GET", None, "read", "Read a block device."),
            a(
                "POST",
                Some("format"),
                "format",
                "Format a block device.\n\n:param fstype: The filesystem type.\n:param label: An optional label.",
            ),
            a(
                "POST",
                Some("unformat"),
                "unformat",
                "Remove the filesystem of a block device.",
            ),
            a(
                "POST",
                Some("mount"),
                "mount",
                "Mount the filesystem of a block device.\n\n:param mount_point: An absolute path.\n:param mount_options: Mount options.",
            ),
            a(
                "POST",
                Some("unmount"),
                "unmount",
                "Unmount the filesystem of a block device.",
            ),
            a(
                "POST",
                Some("set_boot_disk"),
                "set_boot_disk",
                "Make this block device the boot disk.",
            ),
        ],
    },
    Handler {
        name: "PartitionsHandler",
        path: "nodes/{system_id}/blockdevices/{device_id}/partitions/",
        params: &["system_id", "device_id"],
        anonymous: false,
        doc: "Manage the partitions of a block device.",
        actions: &[
            a(
                "GET",
                None,
                "read",
                "List the partitions of a block device.",
            ),
            a(
                "POST",
                None,
                "create",
                "Create a partition.\n\n:param size: The size in bytes; all free space when omitted.\n:param bootable: Whether the partition is bootable.",
            ),
        ],
    },
    Handler {
        name: "PartitionHandler",
        path: "nodes/{system_id}/blockdevices/{device_id}/partition/{id}",
        params: &["system_id", "device_id", "id"],
        anonymous: false,
        doc: "Manage one partition of a block device.",
        actions: &[
            a("GET", None, "read", "Read a partition."),
            a("DELETE", None, "delete", "Delete a partition."),
            a(
                "POST",
                Some("format"),
                "format",
                "Format a partition.\n\n:param fstype: The filesystem type.",
            ),
            a(
                "POST",
                Some("unformat"),
                "unformat",
                "Remove the filesystem of a partition.",
            ),
            a(
                "POST",
                Some("mount"),
                "mount",
                "Mount a partition.\n\n:param mount_point: An absolute path.",
            ),
            a("POST", Some("unmount"), "unmount", "Unmount a partition."),
        ],
    },
    Handler {
        name: "VolumeGroupsHandler",
        path: "nodes/{system_id}/volume-groups/",
        params: &["system_id"],
        anonymous: false,
        doc: "Manage the LVM volume groups of a machine.",
        actions: &[
            a("GET", None, "read", "List the volume groups of a machine."),
            a(
                "POST",
                None,
                "create",
                "Create a volume group.\n\n:param name: The name.\n:param block_devices: Block device ids.\n:param partitions: Partition ids.",
            ),
        ],
    },
    Handler {
        name: "VolumeGroupHandler",
        path: "nodes/{system_id}/volume-group/{id}/",
        params: &["system_id", "id"],
        anonymous: false,
        doc: "Manage one LVM volume group of a machine.",
        actions: &[
            a("GET", None, "read", "Read a volume group."),
            a(
                "DELETE",
                None,
                "delete",
                "Delete a volume group and its logical volumes.",
            ),
            a(
                "POST",
                Some("create_logical_volume"),
                "create_logical_volume",
                "Create a logical volume.\n\n:param name: The name.\n:param size: The size in bytes; all free space when omitted.",
            ),
            a(
                "POST",
                Some("delete_logical_volume"),
                "delete_logical_volume",
                "Delete a logical volume.\n\n:param id: The logical volume's block device id.",
            ),
        ],
    },
    Handler {
        name: "TagsHandler",
        path: "tags/",
        params: &[],
        anonymous: false,
        doc: "Manage the collection of all the tags in this MAAS.",
        actions: &[
            a("GET", None, "read", "List tags."),
            a(
                "POST",
                None,
                "create",
                "Create a tag.\n\n:param name: The name.\n:param comment: A comment.\n:param definition: An XPath definition.\n:param kernel_opts: Kernel options for tagged machines.",
            ),
            a("GET", Some("list"), "list", "List tags (MAAS 2.0 form)."),
            a("POST", Some("new"), "new", "Create a tag (MAAS 2.0 form)."),
        ],
    },
    Handler {
        name: "TagHandler",
        path: "tags/{name}/",
        params: &["name"],
        anonymous: false,
        doc: "Manage one tag.",
        actions: &[
            a("GET", None, "read", "Read a tag."),
            a(
                "PUT",
                None,
                "update",
                "Update a tag: name, comment, kernel_opts, definition.",
            ),
            a("DELETE", None, "delete", "Delete a tag."),
            a(
                "POST",
                Some("update_nodes"),
                "update_nodes",
                "Add or remove machines.\n\n:param add: System ids to tag.\n:param remove: System ids to untag.",
            ),
            a(
                "GET",
                Some("machines"),
                "machines",
                "List the machines with this tag.",
            ),
            a(
                "GET",
                Some("nodes"),
                "nodes",
                "List the nodes with this tag.",
            ),
        ],
    },
    Handler {
        name: "InterfacesHandler",
        path: "nodes/{system_id}/interfaces/",
        params: &["system_id"],
        anonymous: false,
        doc: "Manage the network interfaces of a machine.",
        actions: &[a("GET", None, "read", "List the machine's interfaces.")],
    },
    Handler {
        name: "InterfaceHandler",
        path: "nodes/{system_id}/interfaces/{id}/",
        params: &["system_id", "id"],
        anonymous: false,
        doc: "Manage one network interface of a machine.",
        actions: &[
            a("GET", None, "read", "Read an interface."),
            a(
                "POST",
                Some("link_subnet"),
                "link_subnet",
                "Link the interface to a subnet (the machine New, Ready, Allocated or Broken).\n\n:param mode: AUTO, DHCP, STATIC or LINK_UP.\n:param subnet: The subnet (id, or cidr:<cidr>).\n:param ip_address: The address of a STATIC link; a free one when absent.\n\nReturns 409 when the address is already in use.",
            ),
            a(
                "POST",
                Some("unlink_subnet"),
                "unlink_subnet",
                "Remove a link from the interface.\n\n:param id: The id of the link.",
            ),
        ],
    },
    Handler {
        name: "SubnetsHandler",
        path: "subnets/",
        params: &[],
        anonymous: false,
        doc: "Manage subnets.",
        actions: &[a("GET", None, "read", "List subnets.")],
    },
    Handler {
        name: "ZonesHandler",
        path: "zones/",
        params: &[],
        anonymous: false,
        doc: "Manage availability zones.",
        actions: &[a("GET", None, "read", "List zones.")],
    },
];

/// Matches a path under the API root against a template; returns the bound parameters.
fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut out = Vec::new();
    for (ts, ps) in t.iter().zip(&p) {
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            let v = percent_encoding::percent_decode_str(ps)
                .decode_utf8_lossy()
                .into_owned();
            out.push((name.to_string(), v));
        } else if ts != ps {
            return None;
        }
    }
    Some(out)
}

/// The `describe/` document, shaped as MAAS's own (python-libmaas builds its client from it).
pub fn describe(base_uri: &str) -> Json {
    let mut resources = Vec::new();
    let mut handlers = Vec::new();
    for h in HANDLERS {
        let actions: Vec<Json> = h
            .actions
            .iter()
            .map(|x| {
                json!({
                    "name": x.name,
                    "method": x.method,
                    "op": x.op,
                    "restful": x.op.is_none(),
                    "doc": x.doc,
                })
            })
            .collect();
        let hj = json!({
            "name": h.name,
            "doc": h.doc,
            "params": h.params,
            "path": format!("{API_ROOT}{}", h.path),
            "uri": format!("{base_uri}{API_ROOT}{}", h.path),
            "actions": actions,
        });
        handlers.push(hj.clone());
        if h.anonymous {
            resources.push(json!({"name": h.name, "anon": hj, "auth": null}));
        } else {
            resources.push(json!({"name": h.name, "anon": null, "auth": hj}));
        }
    }
    // A stable hash of the table, as MAAS publishes one of its handlers.
    let text = serde_json::to_string(&handlers).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    json!({
        "doc": "MAAS API",
        "hash": format!("{h:016x}{:024x}", h.rotate_left(17) as u128),
        "resources": resources,
        "handlers": handlers,
    })
}

// ---- responses ------------------------------------------------------------------------------

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body.into()))
        .expect("static response")
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

fn error_response(e: SimError) -> Response {
    match e {
        SimError::BadRequest(m) => text(StatusCode::BAD_REQUEST, m),
        SimError::Form(f) => json_response(StatusCode::BAD_REQUEST, &json!(f)),
        SimError::Unauthorized(m) => text(StatusCode::UNAUTHORIZED, m),
        SimError::Forbidden(m) => text(StatusCode::FORBIDDEN, m),
        SimError::NotFound(m) => text(StatusCode::NOT_FOUND, m),
        SimError::Conflict(m) => text(StatusCode::CONFLICT, m),
    }
}

// ---- OAuth ----------------------------------------------------------------------------------

/// Parses `Authorization: OAuth k="v", …` into percent-decoded pairs.
pub fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim().strip_prefix("OAuth")?.trim();
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"');
        let v = percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned();
        out.push((k.trim().to_string(), v));
    }
    Some(out)
}

/// Checks the request's credentials; returns the user name.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, SimError> {
    let invalid = || SimError::Unauthorized("Authorization Error: Invalid API key.".into());
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SimError::Unauthorized("Authorization Error: 'No credentials were provided.'".into())
        })?;
    let pairs = parse_oauth_header(value).ok_or_else(invalid)?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let consumer = get("oauth_consumer_key").ok_or_else(invalid)?;
    let token = get("oauth_token").ok_or_else(invalid)?;
    let method = get("oauth_signature_method").unwrap_or("");
    let signature = get("oauth_signature").unwrap_or("");
    let key = &shared.key;
    if consumer != key.consumer || token != key.token {
        return Err(invalid());
    }
    if method != "PLAINTEXT" {
        return Err(SimError::Unauthorized(format!(
            "Authorization Error: Unsupported signature method '{method}'."
        )));
    }
    // PLAINTEXT: consumer secret (empty) & token secret.
    let expected = format!("&{}", key.secret);
    if signature != expected {
        return Err(invalid());
    }
    Ok(shared.username.clone())
}

// ---- dispatch -------------------------------------------------------------------------------

/// The one axum handler: everything goes through here.
pub async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return text(StatusCode::BAD_REQUEST, "Request body too large."),
    };
    let latency = shared.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| shared.addr.to_string());
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    shared.record(&parts.method, &path, &query);

    let Some(rel) = path.strip_prefix(API_ROOT) else {
        return text(StatusCode::NOT_FOUND, format!("Not Found: {path}"));
    };
    if rel == "describe/" || rel == "describe" {
        if parts.method != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        }
        return json_response(StatusCode::OK, &describe(&format!("http://{host}")));
    }

    // Fault injection: 503 and 409 (with Retry-After) before any work; 504 after the work is done (a gateway giving up
    // while MAAS carries on), as real deployments behind a proxy do.
    let fault = shared.roll_fault();
    if fault == Some(503) {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::RETRY_AFTER, shared.retry_after(10.0).to_string())
            .body(Body::from(
                "Service Unavailable: MAAS is busy; retry later.",
            ))
            .expect("static response");
    }
    if fault == Some(409) {
        return Response::builder()
            .status(StatusCode::CONFLICT)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::RETRY_AFTER, shared.retry_after(5.0).to_string())
            .body(Body::from(
                "Conflict: the database transaction could not be serialised; retry the request.",
            ))
            .expect("static response");
    }

    let mut params = Params::from_urlencoded(query.as_bytes());
    let op = params.get("op").map(str::to_string);
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if matches!(parts.method, Method::POST | Method::PUT) {
        match parse_body(ct, &body) {
            Ok(b) => params.extend(b),
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        }
    }

    let response = dispatch(
        &shared,
        &parts.method,
        &parts.headers,
        rel,
        op.as_deref(),
        &params,
    );
    let lost = parts.method != Method::GET && shared.take_lost_answer(op.as_deref());
    if fault == Some(504) || lost {
        return text(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout");
    }
    response
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    rel: &str,
    op: Option<&str>,
    params: &Params,
) -> Response {
    let Some((handler, bound)) = HANDLERS
        .iter()
        .find_map(|h| match_path(h.path, rel).map(|b| (h, b)))
    else {
        return text(StatusCode::NOT_FOUND, format!("Not Found: {API_ROOT}{rel}"));
    };
    let user = if handler.anonymous && headers.get(header::AUTHORIZATION).is_none() {
        String::new()
    } else {
        match authenticate(shared, headers) {
            Ok(u) => u,
            Err(e) => return error_response(e),
        }
    };
    let action = handler
        .actions
        .iter()
        .find(|x| x.method == method.as_str() && x.op == op);
    let Some(action) = action else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "Unrecognised signature: method={} op={}",
                method.as_str(),
                op.unwrap_or("None")
            ),
        );
    };
    let arg = |n: &str| {
        bound
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let now = Instant::now();
    let mut world = shared.world.lock().expect("world lock");
    world.advance(now);
    let result = run(
        &mut world,
        handler.name,
        action.name,
        &arg,
        params,
        &user,
        now,
    );
    match result {
        Ok(Reply::Json(j)) => json_response(StatusCode::OK, &j),
        Ok(Reply::NoContent) => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .expect("static response"),
        Err(e) => error_response(e),
    }
}

enum Reply {
    Json(Json),
    NoContent,
}

fn num_arg(v: &str, what: &str) -> Result<u64, SimError> {
    v.parse()
        .map_err(|_| SimError::NotFound(format!("No {what} matches the given query.")))
}

fn run(
    w: &mut World,
    handler: &str,
    action: &str,
    arg: &dyn Fn(&str) -> String,
    p: &Params,
    user: &str,
    now: Instant,
) -> Result<Reply, SimError> {
    use Reply::Json as J;
    let machine = |w: &World| w.index(&arg("system_id"));
    match (handler, action) {
        ("VersionHandler", "read") => Ok(J(json!({
            "version": "3.4.0",
            "subversion": "brick-sim",
            "capabilities": [
                "networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu",
                "devices-management", "storage-deployment-ubuntu", "network-deployment-ubuntu",
                "bridging-interface-ubuntu", "bridging-automatic-ubuntu", "authenticate-api",
            ],
        }))),
        ("UsersHandler", "read") => Ok(J(json!([
            {"username": w.username, "email": format!("{}@example.invalid", w.username),
             "is_superuser": true, "is_local": true,
             "resource_uri": format!("/MAAS/api/2.0/users/{}/", w.username)}
        ]))),
        ("UsersHandler", "whoami") => Ok(J(json!(
            {"username": user, "email": format!("{user}@example.invalid"),
             "is_superuser": true, "is_local": true,
             "resource_uri": format!("/MAAS/api/2.0/users/{user}/")}
        ))),
        ("MaasHandler", "get_config") => {
            let name = p.get("name").unwrap_or("");
            Ok(J(match name {
                "default_distro_series" => json!(w.default_distro_series),
                "default_osystem" => json!("ubuntu"),
                "maas_name" => json!("garage"),
                "default_min_hwe_kernel" => json!(""),
                "enable_disk_erasing_on_release" => json!(false),
                _ => Json::Null,
            }))
        }
        ("MachinesHandler", "read") => Ok(J(Json::Array(
            w.list(p).into_iter().map(|m| w.machine_json(m)).collect(),
        ))),
        ("MachinesHandler", "list_allocated") => Ok(J(Json::Array(
            w.machines
                .iter()
                .filter(|m| m.owner.as_deref() == Some(user))
                .map(|m| w.machine_json(m))
                .collect(),
        ))),
        ("MachinesHandler", "allocate") => {
            let idx = w.allocate(p, user)?;
            Ok(J(w.machine_json(&w.machines[idx])))
        }
        ("MachinesHandler", "release") => {
            let ids = p.list("machines");
            let idxs: Vec<usize> = ids.iter().map(|id| w.index(id)).collect::<Result<_, _>>()?;
            for i in &idxs {
                w.release(*i, p, now)?;
            }
            Ok(J(json!(ids)))
        }
        ("MachineHandler", op) => {
            let idx = machine(w)?;
            match op {
                "read" => {}
                "update" => {
                    if let Some(h) = p.get("hostname") {
                        if w.machines
                            .iter()
                            .any(|m| m.hostname == h && m.system_id != w.machines[idx].system_id)
                        {
                            return Err(SimError::form(
                                "hostname",
                                &format!("Node with hostname \"{h}\" already exists."),
                            ));
                        }
                        w.machines[idx].hostname = h.to_string();
                    }
                    if let Some(z) = p.get("zone") {
                        w.machines[idx].zone = z.to_string();
                    }
                    if let Some(pl) = p.get("pool") {
                        w.machines[idx].pool = pl.to_string();
                    }
                }
                "delete" => {
                    w.machines.remove(idx);
                    return Ok(Reply::NoContent);
                }
                "deploy" => w.deploy(idx, p, user, now)?,
                "release" => w.release(idx, p, now)?,
                "commission" => w.commission(idx, p, now)?,
                "abort" => w.abort(idx)?,
                "set_storage_layout" => w.set_storage_layout(idx, p)?,
                "power_on" => w.machines[idx].power_state = "on",
                "power_off" => w.machines[idx].power_state = "off",
                "query_power_state" => {
                    return Ok(J(json!({"state": w.machines[idx].power_state})));
                }
                "set_owner_data" => w.set_owner_data(idx, p, user)?,
                "mark_broken" => w.mark_broken(idx)?,
                "mark_fixed" => w.mark_fixed(idx)?,
                _ => unreachable!("every action of the table is handled"),
            }
            Ok(J(w.machine_json(&w.machines[idx])))
        }
        ("BlockDevicesHandler", "read") => {
            let idx = machine(w)?;
            let m = &w.machines[idx];
            Ok(J(Json::Array(
                m.storage
                    .devices
                    .iter()
                    .map(|d| m.storage.device_json(&m.system_id, d))
                    .collect(),
            )))
        }
        ("BlockDeviceHandler", op) => {
            let idx = machine(w)?;
            let dev = num_arg(&arg("id"), "BlockDevice")?;
            if w.machines[idx].storage.device(dev).is_none() {
                return Err(SimError::NotFound(
                    "No BlockDevice matches the given query.".into(),
                ));
            }
            if op != "read" {
                w.check_storage_editable(idx)?;
            }
            let mut ids = w.ids.clone();
            let s = &mut w.machines[idx].storage;
            match op {
                "read" => {}
                "format" => {
                    let fstype = p
                        .get("fstype")
                        .ok_or_else(|| SimError::form("fstype", "This field is required."))?;
                    s.format_device(&mut ids, dev, fstype, p.get("label"))?
                }
                "unformat" => s.unformat_device(dev)?,
                "mount" => {
                    let mp = p
                        .get("mount_point")
                        .ok_or_else(|| SimError::form("mount_point", "This field is required."))?;
                    s.mount_device(dev, mp, p.get("mount_options"))?
                }
                "unmount" => s.unmount_device(dev)?,
                "set_boot_disk" => s.boot_disk = Some(dev),
                _ => unreachable!("every action of the table is handled"),
            }
            w.ids = ids;
            let m = &w.machines[idx];
            let d = m.storage.device(dev).expect("exists");
            Ok(J(m.storage.device_json(&m.system_id, d)))
        }
        ("PartitionsHandler", op) => {
            let idx = machine(w)?;
            let dev = num_arg(&arg("device_id"), "BlockDevice")?;
            if w.machines[idx].storage.device(dev).is_none() {
                return Err(SimError::NotFound(
                    "No BlockDevice matches the given query.".into(),
                ));
            }
            if op == "read" {
                let m = &w.machines[idx];
                let d = m.storage.device(dev).expect("exists");
                return Ok(J(Json::Array(
                    (0..d.partitions.len())
                        .map(|i| m.storage.partition_json(&m.system_id, d, i))
                        .collect(),
                )));
            }
            w.check_storage_editable(idx)?;
            let size = match p.get("size") {
                Some(s) => Some(
                    parse_size(s, 0)
                        .ok_or_else(|| SimError::form("size", "Enter a whole number."))?,
                ),
                None => None,
            };
            let mut ids = w.ids.clone();
            let pid =
                w.machines[idx]
                    .storage
                    .add_partition(&mut ids, dev, size, p.flag("bootable"))?;
            w.ids = ids;
            let m = &w.machines[idx];
            let d = m.storage.device(dev).expect("exists");
            let i = d
                .partitions
                .iter()
                .position(|x| x.id == pid)
                .expect("just added");
            Ok(J(m.storage.partition_json(&m.system_id, d, i)))
        }
        ("PartitionHandler", op) => {
            let idx = machine(w)?;
            let dev = num_arg(&arg("device_id"), "BlockDevice")?;
            let pid = num_arg(&arg("id"), "Partition")?;
            let found = w.machines[idx]
                .storage
                .partition(pid)
                .is_some_and(|(d, _)| d.id == dev);
            if !found {
                return Err(SimError::NotFound(
                    "No Partition matches the given query.".into(),
                ));
            }
            if op != "read" {
                w.check_storage_editable(idx)?;
            }
            let mut ids = w.ids.clone();
            let s = &mut w.machines[idx].storage;
            match op {
                "read" => {}
                "delete" => {
                    if s.vg_of(&Member::Partition(pid)).is_some() {
                        return Err(SimError::BadRequest(
                            "Partition is part of a volume group and cannot be deleted.".into(),
                        ));
                    }
                    let d = s.device_mut(dev).expect("exists");
                    d.partitions.retain(|x| x.id != pid);
                    return Ok(Reply::NoContent);
                }
                "format" => {
                    let fstype = p
                        .get("fstype")
                        .ok_or_else(|| SimError::form("fstype", "This field is required."))?;
                    s.format_partition(&mut ids, pid, fstype, p.get("label"))?
                }
                "unformat" => {
                    let part = s.partition_mut(pid).expect("exists");
                    match &part.fs {
                        Some(f) if f.mount_point.is_some() => return Err(SimError::BadRequest("Filesystem is mounted and cannot be unformatted. Unmount the filesystem before unformatting the partition.".into())),
                        Some(_) => part.fs = None,
                        None => return Err(SimError::BadRequest("Partition is not formatted.".into())),
                    }
                }
                "mount" => {
                    let mp = p
                        .get("mount_point")
                        .ok_or_else(|| SimError::form("mount_point", "This field is required."))?;
                    s.mount_partition(pid, mp, p.get("mount_options"))?
                }
                "unmount" => {
                    let part = s.partition_mut(pid).expect("exists");
                    match part.fs.as_mut() {
                        Some(f) if f.mount_point.is_some() => {
                            f.mount_point = None;
                            f.mount_options = None;
                        }
                        _ => {
                            return Err(SimError::BadRequest(
                                "Filesystem is already unmounted.".into(),
                            ));
                        }
                    }
                }
                _ => unreachable!("every action of the table is handled"),
            }
            w.ids = ids;
            let m = &w.machines[idx];
            let d = m.storage.device(dev).expect("exists");
            let i = d
                .partitions
                .iter()
                .position(|x| x.id == pid)
                .expect("exists");
            Ok(J(m.storage.partition_json(&m.system_id, d, i)))
        }
        ("VolumeGroupsHandler", op) => {
            let idx = machine(w)?;
            if op == "read" {
                let m = &w.machines[idx];
                return Ok(J(Json::Array(
                    m.storage
                        .vgs
                        .iter()
                        .map(|v| m.storage.vg_json(&m.system_id, v))
                        .collect(),
                )));
            }
            w.check_storage_editable(idx)?;
            let mut members = Vec::new();
            for d in p.list("block_devices") {
                members.push(Member::Device(d.parse().map_err(|_| {
                    SimError::form("block_devices", "Select a valid choice.")
                })?));
            }
            for d in p.list("partitions") {
                members.push(Member::Partition(d.parse().map_err(|_| {
                    SimError::form("partitions", "Select a valid choice.")
                })?));
            }
            let mut ids = w.ids.clone();
            let vg = w.machines[idx].storage.create_vg(
                &mut ids,
                p.get("name").unwrap_or(""),
                members,
            )?;
            w.ids = ids;
            let m = &w.machines[idx];
            Ok(J(m.storage.vg_json(
                &m.system_id,
                m.storage.vg(vg).expect("just created"),
            )))
        }
        ("VolumeGroupHandler", op) => {
            let idx = machine(w)?;
            let vg = num_arg(&arg("id"), "VolumeGroup")?;
            if w.machines[idx].storage.vg(vg).is_none() {
                return Err(SimError::NotFound(
                    "No VolumeGroup matches the given query.".into(),
                ));
            }
            if op != "read" {
                w.check_storage_editable(idx)?;
            }
            match op {
                "read" => {}
                "delete" => {
                    w.machines[idx].storage.delete_vg(vg)?;
                    return Ok(Reply::NoContent);
                }
                "create_logical_volume" => {
                    let size = match p.get("size") {
                        Some(s) => Some(
                            parse_size(s, 0)
                                .ok_or_else(|| SimError::form("size", "Enter a whole number."))?,
                        ),
                        None => None,
                    };
                    let mut ids = w.ids.clone();
                    let lv = w.machines[idx].storage.create_lv(
                        &mut ids,
                        vg,
                        p.get("name").unwrap_or(""),
                        size,
                    )?;
                    w.ids = ids;
                    let m = &w.machines[idx];
                    return Ok(J(m.storage.device_json(
                        &m.system_id,
                        m.storage.device(lv).expect("just created"),
                    )));
                }
                "delete_logical_volume" => {
                    let id = p
                        .get("id")
                        .and_then(|i| i.parse().ok())
                        .ok_or_else(|| SimError::form("id", "This field is required."))?;
                    w.machines[idx].storage.delete_lv(vg, id)?;
                }
                _ => unreachable!("every action of the table is handled"),
            }
            let m = &w.machines[idx];
            Ok(J(m
                .storage
                .vg_json(&m.system_id, m.storage.vg(vg).expect("exists"))))
        }
        ("TagsHandler", "read" | "list") => Ok(J(Json::Array(
            w.tags.values().map(World::tag_json).collect(),
        ))),
        ("TagsHandler", "create" | "new") => Ok(J(World::tag_json(&w.create_tag(p)?))),
        ("TagHandler", op) => {
            let name = arg("name");
            match op {
                "read" => Ok(J(World::tag_json(w.tag(&name)?))),
                "update" => Ok(J(World::tag_json(&w.update_tag(&name, p)?))),
                "delete" => {
                    w.delete_tag(&name)?;
                    Ok(Reply::NoContent)
                }
                "update_nodes" => Ok(J(w.update_nodes(&name, p)?)),
                "machines" | "nodes" => {
                    w.tag(&name)?;
                    Ok(J(Json::Array(
                        w.machines
                            .iter()
                            .filter(|m| m.tags.contains(&name))
                            .map(|m| w.machine_json(m))
                            .collect(),
                    )))
                }
                _ => unreachable!("every action of the table is handled"),
            }
        }
        ("InterfacesHandler", "read") => {
            let idx = machine(w)?;
            Ok(J(w.interfaces_json(idx)))
        }
        ("InterfaceHandler", op) => {
            let idx = machine(w)?;
            let iface = arg("id");
            Ok(J(match op {
                "read" => w.interface_read(idx, &iface)?,
                "link_subnet" => w.link_subnet(idx, &iface, p)?,
                "unlink_subnet" => w.unlink_subnet(idx, &iface, p)?,
                _ => unreachable!("every action of the table is handled"),
            }))
        }
        ("SubnetsHandler", "read") => Ok(J(json!([w.subnet_json()]))),
        ("ZonesHandler", "read") => Ok(J(json!([
            {"id": 1, "name": "default", "description": "", "resource_uri": "/MAAS/api/2.0/zones/default/"}
        ]))),
        _ => unreachable!("every handler of the table is handled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_header_values_are_percent_decoded() {
        let pairs = parse_oauth_header(
            r#"OAuth realm="", oauth_consumer_key="ck", oauth_token="tk", oauth_signature_method="PLAINTEXT", oauth_signature="%26s%2Bc", oauth_nonce="1""#,
        )
        .unwrap();
        assert!(pairs.contains(&("oauth_signature".into(), "&s+c".into())));
        assert!(pairs.contains(&("oauth_consumer_key".into(), "ck".into())));
    }

    #[test]
    fn paths_bind_their_parameters() {
        let b = match_path(
            "nodes/{system_id}/blockdevices/{device_id}/",
            "nodes/abc123/blockdevices/7/",
        )
        .unwrap();
        assert_eq!(
            b,
            vec![
                ("system_id".into(), "abc123".into()),
                ("device_id".into(), "7".into())
            ]
        );
        assert!(match_path("machines/", "machines/abc/").is_none());
        assert!(
            match_path(
                "nodes/{s}/blockdevices/{d}/partition/{p}",
                "nodes/a/blockdevices/1/partition/2"
            )
            .is_some()
        );
    }

    #[test]
    fn the_describe_document_lists_every_action_of_the_handler_table() {
        let d = describe("http://127.0.0.1:1");
        let resources = d["resources"].as_array().unwrap();
        assert_eq!(resources.len(), HANDLERS.len());
        let machine = resources
            .iter()
            .find(|r| r["name"] == "MachineHandler")
            .unwrap();
        let ops: Vec<&str> = machine["auth"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["op"].as_str())
            .collect();
        for op in ["deploy", "release", "commission", "set_storage_layout"] {
            assert!(ops.contains(&op), "{op} missing");
        }
        assert_eq!(
            machine["auth"]["uri"],
            "http://127.0.0.1:1/MAAS/api/2.0/machines/{system_id}/"
        );
    }
}
