//! `maas_machine`: one physical machine, from "known to MAAS" to "Deployed with our OS, disks
//! and cloud-init".
//!
//! Create converges the machine step by step from whatever status it is found in, re-reading
//! it after every step, so that retried calls (a 504 whose work was done), an interrupted
//! earlier run (a machine already Deploying for us) and slow commissioning are all handled by
//! the same loop: New → commission → Ready → storage layout → allocate → deploy → Deployed.
//!
//! What MAAS cannot tell back (the user_data and the storage specification as written) is
//! kept in the machine's owner data (`brick_user_data`, `brick_storage`), which MAAS clears on
//! release; import reads it back so that the next plan after `brick import` is empty.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use base64::Engine;
use brick_provider_api::provider::{ApplyResponse, AttrPath, PathStep, PlanResponse, Progress};
use brick_provider_api::schema::{Attribute, Block, Nesting, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::client::{MaasClient, MaasError, encode_user_data};
use crate::convert::{
    bool_attr, is_set, json_i64, json_str, maas_diag, n, opt_s, parse_duration, s, str_attr,
    string_list, string_map, string_set, strings_attr, with_attr,
};
use crate::provider::Ctx;
use crate::sim::storage::parse_size;

pub const TYPE: &str = "maas_machine";
/// The volume group brick's LVM layouts create.
pub const VG_NAME: &str = "vgroot";
pub const DEFAULT_DISTRO: &str = "jammy";
const OWNER_USER_DATA: &str = "brick_user_data";
const OWNER_STORAGE: &str = "brick_storage";

/// Attributes whose change redeploys the machine.
const REPLACING: &[&str] = &[
    "hostname",
    "system_id",
    "pxe_mac_address",
    "distro_series",
    "hwe_kernel",
    "user_data",
    "storage",
    "static_ip",
    "subnet_cidr",
];
/// Attributes only MAAS knows.
const COMPUTED: &[&str] = &[
    "id",
    "fqdn",
    "status",
    "power_state",
    "ip_addresses",
    "cpu_count",
    "memory_mib",
    "block_devices",
    "volume_paths",
    "zone",
    "pool",
    "deployment_id",
];

fn volume_block() -> Block {
    Block::default()
        .attr(
            "size",
            Attribute::required(Type::String).forces_replacement().describe(
                "Size: bytes, or with a suffix K/M/G/T (powers of 1000, as MAAS) or KiB/MiB/GiB/TiB; \"rest\" for all that is left.",
            ),
        )
        .attr(
            "fstype",
            Attribute::optional(Type::String)
                .forces_replacement()
                .describe("Filesystem (ext4, xfs, …); unset leaves the volume raw, e.g. for a Ceph OSD."),
        )
        .attr(
            "mount_point",
            Attribute::optional(Type::String)
                .forces_replacement()
                .describe("Where the formatted volume is mounted (needs fstype), e.g. /."),
        )
}

fn storage_block() -> Block {
    Block::default()
        .attr(
            "layout",
            Attribute::required(Type::String)
                .forces_replacement()
                .describe("flat | lvm | bcache | blank"),
        )
        .block("volume", Nesting::Map, volume_block())
}

fn timeouts_block() -> Block {
    Block::default()
        .attr(
            "create",
            Attribute::optional(Type::String).describe(
                "How long commissioning and deploying may take, e.g. \"40m\" (default 40m).",
            ),
        )
        .attr(
            "update",
            Attribute::optional(Type::String)
                .describe("How long an in-place change (tags) may take (default 40m)."),
        )
        .attr(
            "delete",
            Attribute::optional(Type::String)
                .describe("How long releasing (and erasing) may take (default 40m)."),
        )
}

fn block_device_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("path", Type::String),
        ("size", Type::Number),
    ])
}

pub fn schema() -> ResourceSchema {
    let rep = |a: Attribute| a.forces_replacement();
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("The system_id."),
            )
            .attr(
                "hostname",
                rep(Attribute::optional_computed(Type::String))
                    .describe("Find the machine by hostname."),
            )
            .attr(
                "system_id",
                rep(Attribute::optional_computed(Type::String))
                    .describe("Find the machine by MAAS system id."),
            )
            .attr(
                "pxe_mac_address",
                rep(Attribute::optional_computed(Type::String))
                    .describe("Find the machine by the MAC address it PXE-boots from."),
            )
            .attr(
                "distro_series",
                rep(Attribute::optional(Type::String))
                    .default(Value::string(DEFAULT_DISTRO))
                    .describe("The Ubuntu release to deploy."),
            )
            .attr(
                "hwe_kernel",
                rep(Attribute::optional(Type::String))
                    .describe("The kernel to deploy, e.g. hwe-22.04; unset: MAAS's default."),
            )
            .attr(
                "user_data",
                rep(Attribute::optional(Type::String)).describe("cloud-init user data."),
            )
            .attr(
                "static_ip",
                rep(Attribute::optional(Type::String)).describe(
                    "IPv4 address of the boot interface: a STATIC link MAAS makes while the machine is Allocated, before deploying it. Known at plan, so that what must know the address before the machine exists (a cluster's join address) can use it.",
                ),
            )
            .attr(
                "subnet_cidr",
                rep(Attribute::optional(Type::String)).describe(
                    "The MAAS subnet of static_ip, e.g. 10.0.0.0/24; unset: the subnet that contains static_ip.",
                ),
            )
            .attr(
                "tags",
                Attribute::optional_computed(Type::set(Type::String)).describe(
                    "MAAS tags of the machine, changed in place; unset leaves MAAS's tags alone.",
                ),
            )
            .attr(
                "erase",
                Attribute::optional(Type::Bool)
                    .default(Value::bool(false))
                    .describe("Erase the disks when the machine is released."),
            )
            .attr(
                "fqdn",
                Attribute::computed(Type::String).describe("hostname.domain, as MAAS names it."),
            )
            .attr(
                "status",
                Attribute::computed(Type::String).describe("MAAS's status_name."),
            )
            .attr(
                "power_state",
                Attribute::computed(Type::String)
                    .describe("on, off or unknown, as MAAS reports it."),
            )
            .attr(
                "ip_addresses",
                Attribute::computed(Type::list(Type::String))
                    .describe("The machine's IP addresses once deployed."),
            )
            .attr(
                "cpu_count",
                Attribute::computed(Type::Number)
                    .describe("CPU cores, as commissioning found them."),
            )
            .attr(
                "memory_mib",
                Attribute::computed(Type::Number)
                    .describe("Memory in MiB, as commissioning found it."),
            )
            .attr(
                "block_devices",
                Attribute::computed(Type::list(block_device_type()))
                    .describe("The physical disks (name, path, size in bytes)."),
            )
            .attr(
                "volume_paths",
                Attribute::computed(Type::map(Type::String))
                    .describe("The device path of every storage volume, by volume name."),
            )
            .attr(
                "zone",
                Attribute::computed(Type::String).describe("The MAAS availability zone."),
            )
            .attr(
                "pool",
                Attribute::computed(Type::String).describe("The MAAS resource pool."),
            )
            .attr(
                "deployment_id",
                Attribute::computed(Type::Number).describe(
                    "MAAS's record of the current deployment (current_installation_result_id): every deployment, by anyone, makes a new one, so a change means the machine was deployed again.",
                ),
            )
            .block("storage", Nesting::Single, storage_block())
            .block("timeouts", Nesting::Single, timeouts_block()),
    }
}

fn storage_type() -> Type {
    storage_block().value_type()
}
fn timeouts_type() -> Type {
    timeouts_block().value_type()
}

// ---- the storage specification ---------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageSpec {
    pub layout: String,
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeSpec>,
}

impl StorageSpec {
    /// From the `storage` block's value; `None` when null or not wholly known.
    pub fn from_value(v: &Value) -> Option<StorageSpec> {
        if v.is_null() || !v.is_wholly_known() {
            return None;
        }
        let layout = str_attr(v, "layout")?.to_string();
        let mut volumes = BTreeMap::new();
        if let Some(m) = v.get("volume").and_then(Value::as_mapping) {
            for (name, vol) in m {
                volumes.insert(
                    name.clone(),
                    VolumeSpec {
                        size: str_attr(vol, "size").unwrap_or("").to_string(),
                        fstype: str_attr(vol, "fstype").map(str::to_string),
                        mount_point: str_attr(vol, "mount_point").map(str::to_string),
                    },
                );
            }
        }
        Some(StorageSpec { layout, volumes })
    }

    pub fn to_value(&self) -> Value {
        let vol_ty = volume_block().value_type();
        let vols = self
            .volumes
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::object_from([
                        ("size", s(&v.size)),
                        ("fstype", opt_s(v.fstype.as_deref())),
                        ("mount_point", opt_s(v.mount_point.as_deref())),
                    ]),
                )
            })
            .collect();
        Value::object_from([
            ("layout", s(&self.layout)),
            ("volume", Value::map(vol_ty, vols)),
        ])
    }

    /// The volume mounted at `/` (the LVM layout's root logical volume).
    fn root(&self) -> Option<(&String, &VolumeSpec)> {
        self.volumes
            .iter()
            .find(|(_, v)| v.mount_point.as_deref() == Some("/"))
    }

    /// Whether two specifications describe the same disks (sizes compared in bytes, to MAAS's
    /// 4 MiB alignment; "rest" matches any size).
    pub fn equivalent(&self, other: &StorageSpec) -> bool {
        if self.layout != other.layout || self.volumes.len() != other.volumes.len() {
            return false;
        }
        self.volumes.iter().all(|(name, a)| {
            let Some(b) = other.volumes.get(name) else {
                return false;
            };
            let size_ok = a.size == b.size
                || a.size == "rest"
                || b.size == "rest"
                || match (parse_size(&a.size, 0), parse_size(&b.size, 0)) {
                    (Some(x), Some(y)) => x.abs_diff(y) < 4 * 1024 * 1024,
                    _ => false,
                };
            size_ok && a.fstype == b.fstype && a.mount_point == b.mount_point
        })
    }

    /// Device paths the volumes will have, known before apply.
    pub fn planned_paths(&self) -> BTreeMap<String, String> {
        if self.layout != "lvm" {
            return BTreeMap::new();
        }
        self.volumes
            .keys()
            .map(|k| (k.clone(), format!("/dev/disk/by-dname/{VG_NAME}-{k}")))
            .collect()
    }
}

// ---- validation --------------------------------------------------------------------------------

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    let err = |code: &str, summary: &str, detail: String| {
        Diagnostic::error(format!("brick::maas::{code}"), summary, detail)
    };
    let ids = ["hostname", "system_id", "pxe_mac_address"];
    let any_id = ids
        .iter()
        .any(|k| config.get(k).is_some_and(|v| !v.is_null()));
    if !any_id {
        d.push(
            err(
                "machine_unidentified",
                "Machine not identified",
                "A maas_machine needs one of hostname, system_id or pxe_mac_address to find its machine in MAAS.".into(),
            )
            .with_help("Set hostname = \"kvm4\", or pxe_mac_address for a PC that has just PXE-booted."),
        );
    }
    if let Some(mac) = str_attr(config, "pxe_mac_address") {
        let ok = mac.split(':').count() == 6
            && mac
                .split(':')
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            d.push(
                err(
                    "invalid_mac",
                    "Invalid MAC address",
                    format!("\"{mac}\" is not a MAC address like 52:54:00:12:34:56."),
                )
                .at(["pxe_mac_address"]),
            );
        }
    }
    let static_ip = str_attr(config, "static_ip");
    if let Some(ip) = static_ip
        && ip.parse::<Ipv4Addr>().is_err()
    {
        d.push(
            err(
                "invalid_static_ip",
                "Invalid static address",
                format!("static_ip is \"{ip}\", which is not an IPv4 address like 10.0.0.11."),
            )
            .at(["static_ip"]),
        );
    }
    if let Some(cidr) = str_attr(config, "subnet_cidr") {
        match cidr_contains(cidr, static_ip.unwrap_or("0.0.0.0")) {
            None => d.push(
                err(
                    "invalid_subnet_cidr",
                    "Invalid subnet",
                    format!(
                        "subnet_cidr is \"{cidr}\", which is not an IPv4 CIDR like 10.0.0.0/24."
                    ),
                )
                .at(["subnet_cidr"]),
            ),
            Some(false) if static_ip.is_some_and(|ip| ip.parse::<Ipv4Addr>().is_ok()) => d.push(
                err(
                    "static_ip_outside_subnet",
                    "Static address outside its subnet",
                    format!(
                        "static_ip {} is not an address of subnet_cidr {cidr}.",
                        static_ip.unwrap_or("")
                    ),
                )
                .at(["static_ip"]),
            ),
            _ => {}
        }
        if config.get("static_ip").is_some_and(Value::is_null) {
            d.push(
                err(
                    "subnet_without_static_ip",
                    "Subnet without a static address",
                    "subnet_cidr says which subnet static_ip is in, but static_ip is not set."
                        .into(),
                )
                .with_help("Set static_ip, or remove subnet_cidr.")
                .at(["subnet_cidr"]),
            );
        }
    }
    if let Some(t) = config.get("timeouts").filter(|t| !t.is_null()) {
        for k in ["create", "update", "delete"] {
            if let Some(v) = str_attr(t, k)
                && parse_duration(v).is_none()
            {
                d.push(
                    err(
                        "invalid_timeout",
                        "Invalid timeout",
                        format!(
                            "The {k} timeout \"{v}\" is not a duration like \"40m\" or \"1h30m\"."
                        ),
                    )
                    .at(["timeouts", k]),
                );
            }
        }
    }
    let Some(storage) = config.get("storage").filter(|v| !v.is_null()) else {
        return d;
    };
    let layout = str_attr(storage, "layout");
    if let Some(l) = layout
        && !["flat", "lvm", "bcache", "blank"].contains(&l)
    {
        d.push(
            err(
                "invalid_layout",
                "Invalid storage layout",
                format!("The storage layout \"{l}\" is not one of flat, lvm, bcache or blank."),
            )
            .at(["storage", "layout"]),
        );
    }
    let vols = storage.get("volume").and_then(Value::as_mapping);
    let Some(vols) = vols.filter(|v| !v.is_empty()) else {
        return d;
    };
    if layout.is_some_and(|l| l != "lvm") {
        d.push(
            err(
                "volumes_need_lvm",
                "Volumes need the lvm layout",
                format!(
                    "Storage volumes are logical volumes of an LVM volume group; the \"{}\" layout has none.",
                    layout.unwrap_or("")
                ),
            )
            .at(["storage", "layout"])
            .with_help("Use layout = \"lvm\", or remove the volume blocks."),
        );
    }
    let mut roots = 0;
    let mut rests = Vec::new();
    for (name, vol) in vols {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            d.push(
                err(
                    "invalid_volume_name",
                    "Invalid volume name",
                    format!(
                        "The volume name \"{name}\" may contain only letters, digits, - and _."
                    ),
                )
                .at(["storage", "volume", name.as_str()]),
            );
        }
        if let Some(size) = str_attr(vol, "size") {
            if size == "rest" {
                rests.push(name.clone());
            } else if parse_size(size, 0).is_none_or(|b| b == 0) {
                d.push(
                    err(
                        "invalid_size",
                        "Invalid volume size",
                        format!("The size \"{size}\" of volume \"{name}\" is not a size like \"100G\", \"512MiB\" or \"rest\"."),
                    )
                    .at(["storage", "volume", name.as_str(), "size"]),
                );
            }
        }
        let mp = str_attr(vol, "mount_point");
        if mp == Some("/") {
            roots += 1;
        }
        if let Some(mp) = mp {
            if !mp.starts_with('/') {
                d.push(
                    err(
                        "invalid_mount_point",
                        "Invalid mount point",
                        format!(
                            "The mount point \"{mp}\" of volume \"{name}\" is not an absolute path."
                        ),
                    )
                    .at(["storage", "volume", name.as_str(), "mount_point"]),
                );
            }
            if vol.get("fstype").is_some_and(Value::is_null) {
                d.push(
                    err(
                        "mount_without_fstype",
                        "Mount point without filesystem",
                        format!("Volume \"{name}\" has a mount point but no fstype; a raw volume cannot be mounted."),
                    )
                    .at(["storage", "volume", name.as_str(), "fstype"]),
                );
            }
        }
    }
    let all_known = vols
        .values()
        .all(|v| v.get("mount_point").is_none_or(Value::is_known));
    if all_known && roots != 1 {
        d.push(
            err(
                "lvm_root",
                "LVM layout needs one root volume",
                format!("The lvm layout needs exactly one volume with mount_point = \"/\"; this one has {roots}."),
            )
            .at(["storage", "volume"]),
        );
    }
    if rests.len() > 1 {
        d.push(
            err(
                "several_rest_volumes",
                "More than one volume takes the rest",
                format!(
                    "Only one volume may have size = \"rest\"; {} do.",
                    rests.join(", ")
                ),
            )
            .at(["storage", "volume"]),
        );
    }
    d
}

// ---- plan --------------------------------------------------------------------------------------

fn attr_path(name: &str) -> AttrPath {
    vec![PathStep::Attr(name.to_string())]
}

fn computed_unknown(name: &str) -> Value {
    let ty = schema()
        .block
        .attributes
        .get(name)
        .map(|a| a.ty.clone())
        .unwrap_or(Type::Dynamic);
    Value::unknown(ty)
}

/// Statuses in which brick's deployment still exists.
fn deployment_alive(status: &str) -> bool {
    matches!(status, "Deployed" | "Deploying")
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    let done = |planned: Value, requires_replace: Vec<AttrPath>| PlanResponse {
        planned,
        requires_replace,
        diagnostics: Vec::new(),
    };
    if proposed.is_null() {
        return done(proposed.clone(), Vec::new());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    if m.get("distro_series").is_none_or(Value::is_null) {
        m.insert("distro_series".into(), s(DEFAULT_DISTRO));
    }
    if m.get("erase").is_none_or(Value::is_null) {
        m.insert("erase".into(), Value::bool(false));
    }
    let planned_paths = |m: &BTreeMap<String, Value>| -> Value {
        match m.get("storage").and_then(StorageSpec::from_value) {
            Some(spec) => string_map(spec.planned_paths()),
            None if m.get("storage").is_some_and(|v| v.is_null()) => string_map(BTreeMap::new()),
            None => computed_unknown("volume_paths"),
        }
    };

    if prior.is_null() {
        for k in ["hostname", "system_id", "pxe_mac_address", "tags"] {
            if m.get(k).is_none_or(Value::is_null) {
                m.insert(k.into(), computed_unknown(k));
            }
        }
        let paths = planned_paths(&m);
        for k in COMPUTED {
            m.insert((*k).into(), computed_unknown(k));
        }
        m.insert("volume_paths".into(), paths);
        return done(Value::object(m), Vec::new());
    }

    let tags_unset = m.get("tags").is_none_or(Value::is_null);
    // Update: identity attributes and tags the user left unset keep what MAAS told us.
    for k in ["hostname", "system_id", "pxe_mac_address", "tags"] {
        if m.get(k).is_none_or(Value::is_null) {
            m.insert(
                k.into(),
                prior.get(k).cloned().unwrap_or_else(|| computed_unknown(k)),
            );
        }
    }
    let mut requires_replace = Vec::new();
    for k in REPLACING {
        let (a, b) = (prior.get(k), m.get(*k));
        let same = match *k {
            "storage" => match (
                a.and_then(StorageSpec::from_value),
                b.and_then(StorageSpec::from_value),
            ) {
                (Some(x), Some(y)) => x.equivalent(&y),
                _ => a.map(Value::unmarked) == b.map(Value::unmarked),
            },
            // A state written before these existed has none: the same as null.
            "static_ip" | "subnet_cidr" => {
                a.filter(|v| !v.is_null()).map(Value::unmarked)
                    == b.filter(|v| !v.is_null()).map(Value::unmarked)
            }
            _ => a.map(Value::unmarked) == b.map(Value::unmarked),
        };
        if !same {
            requires_replace.push(attr_path(k));
        }
    }
    // A machine released, broken or failed behind brick's back is deployed again.
    let status = str_attr(prior, "status").unwrap_or("");
    if !deployment_alive(status) {
        requires_replace.push(attr_path("status"));
    }
    if requires_replace.is_empty() {
        for k in COMPUTED {
            m.insert(
                (*k).into(),
                prior.get(k).cloned().unwrap_or_else(|| computed_unknown(k)),
            );
        }
        // An equivalent storage spec keeps the prior's spelling only when the user's is the
        // same; otherwise the user's spelling is recorded (no redeploy).
    } else {
        let paths = planned_paths(&m);
        for k in COMPUTED {
            m.insert((*k).into(), computed_unknown(k));
        }
        m.insert("volume_paths".into(), paths);
        if tags_unset {
            m.insert("tags".into(), computed_unknown("tags"));
        }
    }
    done(Value::object(m), requires_replace)
}

// ---- state ---------------------------------------------------------------------------------------

fn owner_data<'a>(m: &'a Json, key: &str) -> Option<&'a str> {
    m.get("owner_data")
        .and_then(|o| o.get(key))
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// Builds the state from MAAS's machine JSON; `carry` gives what MAAS does not report
/// (user_data, storage, erase, timeouts) and the user's choice of hwe_kernel.
pub fn state_from(m: &Json, carry: &Value) -> Value {
    let strings = |k: &str| -> Vec<String> {
        m.get(k)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let carried = |k: &str, ty: Type| -> Value {
        carry
            .get(k)
            .filter(|v| v.is_known())
            .cloned()
            .unwrap_or_else(|| Value::null(ty))
    };
    let distro = json_str(m, "distro_series");
    let distro = if distro.is_empty() {
        carried("distro_series", Type::String)
    } else {
        s(distro)
    };
    let hwe = if carry.get("hwe_kernel").is_none_or(Value::is_null) {
        Value::null(Type::String)
    } else {
        match json_str(m, "hwe_kernel") {
            "" => carried("hwe_kernel", Type::String),
            k => s(k),
        }
    };
    let block_devices: Vec<Value> = m
        .get("physicalblockdevice_set")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .map(|d| {
                    Value::object_from([
                        ("name", s(json_str(d, "name"))),
                        ("path", s(json_str(d, "path"))),
                        ("size", n(json_i64(d, "size"))),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let mut paths = BTreeMap::new();
    let prefix = format!("{VG_NAME}-");
    if let Some(vgs) = m.get("volume_groups").and_then(Json::as_array) {
        for vg in vgs.iter().filter(|vg| json_str(vg, "name") == VG_NAME) {
            for lv in vg
                .get("logical_volumes")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let name = json_str(lv, "name");
                let short = name.strip_prefix(&prefix).unwrap_or(name);
                paths.insert(short.to_string(), json_str(lv, "path").to_string());
            }
        }
    }
    let erase = carry.get("erase").and_then(Value::as_bool).unwrap_or(false);
    let sub = |k: &str| {
        m.get(k)
            .map(|p| json_str(p, "name"))
            .unwrap_or("")
            .to_string()
    };
    Value::object_from([
        ("id", s(json_str(m, "system_id"))),
        ("system_id", s(json_str(m, "system_id"))),
        ("hostname", s(json_str(m, "hostname"))),
        (
            "pxe_mac_address",
            s(m.get("boot_interface")
                .map(|b| json_str(b, "mac_address"))
                .unwrap_or("")),
        ),
        ("distro_series", distro),
        ("hwe_kernel", hwe),
        ("user_data", carried("user_data", Type::String)),
        // Read back only where brick gives the address: a STATIC link someone made by hand on
        // a machine whose address brick leaves alone is not drift.
        (
            "static_ip",
            if carry.get("static_ip").is_some_and(|v| !v.is_null()) {
                opt_s(boot_static_ip(m).as_deref())
            } else {
                Value::null(Type::String)
            },
        ),
        ("subnet_cidr", carried("subnet_cidr", Type::String)),
        ("tags", string_set(strings("tag_names"))),
        ("erase", Value::bool(erase)),
        ("fqdn", s(json_str(m, "fqdn"))),
        ("status", s(json_str(m, "status_name"))),
        ("power_state", s(json_str(m, "power_state"))),
        ("ip_addresses", string_list(strings("ip_addresses"))),
        ("cpu_count", n(json_i64(m, "cpu_count"))),
        ("memory_mib", n(json_i64(m, "memory"))),
        (
            "block_devices",
            Value::list(block_device_type(), block_devices),
        ),
        ("volume_paths", string_map(paths)),
        ("zone", s(sub("zone"))),
        ("pool", s(sub("pool"))),
        (
            "deployment_id",
            m.get("current_installation_result_id")
                .and_then(Json::as_i64)
                .map_or_else(|| Value::null(Type::Number), n),
        ),
        ("storage", carried("storage", storage_type())),
        ("timeouts", carried("timeouts", timeouts_type())),
    ])
}

// ---- the static address ------------------------------------------------------------------------

/// Whether `cidr` (`a.b.c.d/n`) holds `ip`; `None` when either is malformed.
pub fn cidr_contains(cidr: &str, ip: &str) -> Option<bool> {
    let (net, len) = cidr.split_once('/')?;
    let net: u32 = net.parse::<Ipv4Addr>().ok()?.into();
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let ip: u32 = ip.parse::<Ipv4Addr>().ok()?.into();
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some(net & mask == ip & mask)
}

fn links(iface: &Json) -> &[Json] {
    iface
        .get("links")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The boot interface's STATIC address, when it has one.
fn boot_static_ip(m: &Json) -> Option<String> {
    links(m.get("boot_interface")?)
        .iter()
        .find(|l| json_str(l, "mode").eq_ignore_ascii_case("static"))
        .map(|l| json_str(l, "ip_address").to_string())
        .filter(|ip| !ip.is_empty())
}

/// Gives the machine's boot interface the STATIC address `ip` (the machine Allocated, before
/// deploy), as MAAS users do by hand: every other link of the interface is removed, then the
/// interface is linked to the subnet of `ip` in mode STATIC.
async fn ensure_static_ip(
    ctx: &Ctx,
    m: &Json,
    ip: &str,
    subnet_cidr: Option<&str>,
) -> Result<(), Diagnostic> {
    let c = &ctx.client;
    let (sid, host) = (json_str(m, "system_id"), json_str(m, "hostname"));
    let Some(iface) = m.get("boot_interface").filter(|i| !i.is_null()) else {
        return Err(error(
            "no_boot_interface",
            "Machine has no boot interface",
            format!("MAAS shows no boot interface on {host}, so static_ip {ip} has nowhere to go."),
        ));
    };
    let path = format!("nodes/{sid}/interfaces/{}/", json_i64(iface, "id"));
    let is_ours = |l: &Json| {
        json_str(l, "mode").eq_ignore_ascii_case("static") && json_str(l, "ip_address") == ip
    };
    if links(iface).iter().any(is_ours) {
        return Ok(());
    }
    let diag = |what: &str, e: &MaasError| maas_diag("Cannot set the static address", what, e);
    let subnets = c
        .get("subnets/", &[])
        .await
        .map_err(|e| diag("listing MAAS's subnets", &e))?;
    let subnet = subnets.as_array().into_iter().flatten().find(|s| {
        let cidr = json_str(s, "cidr");
        match subnet_cidr {
            Some(want) => cidr == want,
            None => cidr_contains(cidr, ip) == Some(true),
        }
    });
    let Some(subnet) = subnet else {
        return Err(error(
            "static_ip_no_subnet",
            "No subnet for the static address",
            match subnet_cidr {
                Some(want) => format!("MAAS knows no subnet {want} (for static_ip {ip} of {host})."),
                None => format!("No subnet MAAS knows contains static_ip {ip} of {host}."),
            },
        )
        .with_help("Pick an address of a subnet MAAS manages (MAAS' Subnets page lists them), or set subnet_cidr.")
        .at(["static_ip"]));
    };
    for l in links(iface) {
        match c
            .post(
                &path,
                Some("unlink_subnet"),
                &[("id", json_i64(l, "id").to_string())],
            )
            .await
        {
            // Already gone (a retried run): nothing to remove.
            Ok(_) | Err(MaasError::BadRequest { .. }) => {}
            Err(e) => return Err(diag(&format!("unlinking the boot interface of {host}"), &e)),
        }
    }
    let params = [
        ("mode", "STATIC".to_string()),
        ("subnet", json_i64(subnet, "id").to_string()),
        ("ip_address", ip.to_string()),
    ];
    match c.post_once(&path, "link_subnet", &params).await {
        Ok(_) => Ok(()),
        Err(e @ MaasError::Unconfirmed { .. }) => {
            let back = c.get(&path, &[]).await.map_err(|e| diag("reading the interface back", &e))?;
            if links(&back).iter().any(is_ours) {
                Ok(())
            } else {
                Err(diag(&format!("linking {ip} to {host}"), &e))
            }
        }
        Err(MaasError::Conflict { message }) => Err(error(
            "static_ip_in_use",
            "Static address refused",
            format!("MAAS refused static_ip {ip} for {host}: {message}"),
        )
        .with_help("Pick a free address of the subnet (another machine, device or reservation holds this one), or release what holds it.")
        .at(["static_ip"])),
        Err(e) => Err(diag(&format!("linking {ip} to {host}"), &e)),
    }
}

/// After a release: MAAS keeps a STATIC link across releases, so the address brick gave the
/// boot interface is given back and the interface is AUTO again, as commissioning left it.
async fn give_back_static_ip(ctx: &Ctx, sid: &str, ip: &str) -> Result<(), Diagnostic> {
    let c = &ctx.client;
    let diag = |e: &MaasError| {
        maas_diag(
            "Cannot give back the static address",
            &format!("unlinking {ip} from {sid}"),
            e,
        )
    };
    let m = match c.machine(sid).await {
        Ok(m) => m,
        Err(MaasError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(diag(&e)),
    };
    let Some(iface) = m.get("boot_interface").filter(|i| !i.is_null()) else {
        return Ok(());
    };
    let path = format!("nodes/{sid}/interfaces/{}/", json_i64(iface, "id"));
    let ours = links(iface).iter().find(|l| {
        json_str(l, "mode").eq_ignore_ascii_case("static") && json_str(l, "ip_address") == ip
    });
    let Some(link) = ours else {
        return Ok(());
    };
    let subnet = link.get("subnet").map(|s| json_i64(s, "id"));
    match c
        .post(
            &path,
            Some("unlink_subnet"),
            &[("id", json_i64(link, "id").to_string())],
        )
        .await
    {
        Ok(_) | Err(MaasError::BadRequest { .. }) => {}
        Err(e) => return Err(diag(&e)),
    }
    let auto = links(iface)
        .iter()
        .any(|l| json_str(l, "mode").eq_ignore_ascii_case("auto"));
    if let (false, Some(subnet)) = (auto, subnet) {
        c.post(
            &path,
            Some("link_subnet"),
            &[("mode", "AUTO".to_string()), ("subnet", subnet.to_string())],
        )
        .await
        .map_err(|e| diag(&e))?;
    }
    Ok(())
}

// ---- finding the machine -------------------------------------------------------------------------

/// Finds the machine the configuration names. `Ok(None)` when MAAS knows no such machine.
async fn find(ctx: &Ctx, v: &Value) -> Result<Option<Json>, MaasError> {
    let c = &ctx.client;
    if let Some(id) = str_attr(v, "system_id") {
        return match c.machine(id).await {
            Ok(m) => Ok(Some(m)),
            Err(MaasError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let filter = if let Some(h) = str_attr(v, "hostname") {
        ("hostname", h.to_string())
    } else if let Some(mac) = str_attr(v, "pxe_mac_address") {
        ("mac_address", mac.to_string())
    } else {
        return Ok(None);
    };
    Ok(c.machines(&[filter]).await?.into_iter().next())
}

fn timeout_of(ctx: &Ctx, v: &Value, which: &str) -> Duration {
    v.get("timeouts")
        .and_then(|t| str_attr(t, which))
        .and_then(parse_duration)
        .unwrap_or(ctx.settings.default_timeout)
}

fn fmt_elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}.{}s", secs, d.subsec_millis() / 100)
    }
}

/// Progress reporting: on every status change, and every 30 seconds while waiting (so that a
/// long deploy shows it is alive).
struct Reporter<'a> {
    sink: &'a dyn Progress,
    started: Instant,
    last: Option<(String, Instant)>,
}

impl Reporter<'_> {
    fn status(&mut self, status: &str) {
        let now = Instant::now();
        let due = match &self.last {
            Some((s, at)) => s != status || now.duration_since(*at) >= Duration::from_secs(30),
            None => true,
        };
        if due {
            // MAAS's status name; the engine's view adds the elapsed time.
            self.sink.report(status);
            self.last = Some((status.to_string(), now));
        }
    }
}

/// Polling pace: quick right after a status change, slowing down to `max` while nothing moves,
/// so that a fast lab and a 20-minute deploy on real hardware are both followed well.
struct Pacer {
    min: Duration,
    max: Duration,
    current: Duration,
    last: String,
}

impl Pacer {
    fn new(max: Duration) -> Pacer {
        let min = max.min(Duration::from_millis(250));
        Pacer {
            min,
            max,
            current: min,
            last: String::new(),
        }
    }
    fn next(&mut self, status: &str) -> Duration {
        if status != self.last {
            self.last = status.to_string();
            self.current = self.min;
        } else {
            self.current = self.current.mul_f64(1.5).min(self.max);
        }
        self.current
    }
}

// ---- apply -----------------------------------------------------------------------------------------

fn error(code: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(format!("brick::maas::{code}"), summary, detail)
}

pub async fn apply(
    ctx: &Ctx,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> ApplyResponse {
    let mut reporter = Reporter {
        sink: progress,
        started: Instant::now(),
        last: None,
    };
    if planned.is_null() {
        return match release(ctx, prior, &mut reporter).await {
            Ok(()) => ApplyResponse::done(Value::null(prior.ty())),
            Err(d) => ApplyResponse::failed(prior, vec![d]),
        };
    }
    if !prior.is_null() {
        let redeploy = REPLACING.iter().any(|k| {
            let (a, b) = (prior.get(k), planned.get(k));
            if *k == "storage" {
                match (
                    a.and_then(StorageSpec::from_value),
                    b.and_then(StorageSpec::from_value),
                ) {
                    (Some(x), Some(y)) => !x.equivalent(&y),
                    _ => a != b,
                }
            } else {
                a.is_some_and(Value::is_known) && b.is_some_and(Value::is_known) && a != b
            }
        }) || !deployment_alive(str_attr(prior, "status").unwrap_or(""));
        if !redeploy {
            return update_in_place(ctx, prior, planned).await;
        }
        // A redeploy asked of apply directly (the engine normally replaces: delete + create).
        if let Err(d) = release(ctx, prior, &mut reporter).await {
            return ApplyResponse::failed(prior, vec![d]);
        }
    }
    match converge(ctx, planned, &mut reporter).await {
        Ok(state) => ApplyResponse::done(state),
        Err((state, d)) => ApplyResponse {
            // A machine left allocated to us (e.g. Failed deployment) stays tracked, so that
            // the next plan releases and redeploys it rather than forgetting it.
            new_state: state.unwrap_or_else(|| Value::null(planned.ty())),
            diagnostics: vec![d],
        },
    }
}

async fn update_in_place(ctx: &Ctx, prior: &Value, planned: &Value) -> ApplyResponse {
    let sid = str_attr(prior, "system_id").unwrap_or("").to_string();
    let fail = |d: Diagnostic| ApplyResponse::failed(prior, vec![d]);
    if let Some(want) = strings_attr(planned, "tags") {
        let have: Vec<String> = strings_attr(prior, "tags").unwrap_or_default();
        if let Err(d) = sync_tags(ctx, &sid, &have, &want).await {
            return fail(d);
        }
    }
    let m = match ctx.client.machine(&sid).await {
        Ok(m) => m,
        Err(e) => {
            return fail(maas_diag(
                "Cannot read machine",
                &format!("reading machine {sid}"),
                &e,
            ));
        }
    };
    // Keep owner data in step with what the user now writes (an import adopts the config).
    if let Err(d) = record_owner_data(ctx, &sid, planned).await {
        return fail(d);
    }
    ApplyResponse::done(state_from(&m, planned))
}

async fn sync_tags(
    ctx: &Ctx,
    sid: &str,
    have: &[String],
    want: &[String],
) -> Result<(), Diagnostic> {
    let c = &ctx.client;
    for t in want.iter().filter(|t| !have.contains(t)) {
        match crate::resources::tag::create(c, t, &[("name", t.clone())]).await {
            Ok(_) => {}
            // There already, or created concurrently: either way the machine can have it.
            Err(MaasError::BadRequest { message, .. }) if message.contains("already exists") => {}
            Err(e) => {
                return Err(maas_diag(
                    "Cannot create tag",
                    &format!("creating tag {t}"),
                    &e,
                ));
            }
        }
        c.post(
            &format!("tags/{t}/"),
            Some("update_nodes"),
            &[("add", sid.to_string())],
        )
        .await
        .map_err(|e| {
            maas_diag(
                "Cannot tag machine",
                &format!("adding tag {t} to {sid}"),
                &e,
            )
        })?;
    }
    for t in have.iter().filter(|t| !want.contains(t)) {
        match c
            .post(
                &format!("tags/{t}/"),
                Some("update_nodes"),
                &[("remove", sid.to_string())],
            )
            .await
        {
            Ok(_) | Err(MaasError::NotFound { .. }) => {}
            Err(e) => {
                return Err(maas_diag(
                    "Cannot untag machine",
                    &format!("removing tag {t} from {sid}"),
                    &e,
                ));
            }
        }
    }
    Ok(())
}

async fn record_owner_data(ctx: &Ctx, sid: &str, planned: &Value) -> Result<(), Diagnostic> {
    let ud = str_attr(planned, "user_data")
        .map(encode_user_data)
        .unwrap_or_default();
    let storage = planned
        .get("storage")
        .and_then(StorageSpec::from_value)
        .and_then(|s| serde_json::to_string(&s).ok())
        .unwrap_or_default();
    ctx.client
        .machine_op(
            sid,
            "set_owner_data",
            &[(OWNER_USER_DATA, ud), (OWNER_STORAGE, storage)],
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            maas_diag(
                "Cannot record owner data",
                &format!("setting owner data of {sid}"),
                &e,
            )
        })
}

/// Reads the machine, riding out transient errors until the deadline.
async fn poll(ctx: &Ctx, sid: &str, deadline: Instant) -> Result<Json, MaasError> {
    loop {
        match ctx.client.machine(sid).await {
            Ok(m) => return Ok(m),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(ctx.settings.poll_interval).await;
            }
            Err(e) => return Err(e),
        }
    }
}

type ConvergeError = (Option<Value>, Diagnostic);

async fn converge(
    ctx: &Ctx,
    planned: &Value,
    rep: &mut Reporter<'_>,
) -> Result<Value, ConvergeError> {
    let who = describe_target(planned);
    let found = find(ctx, planned).await.map_err(|e| {
        (
            None,
            maas_diag("Cannot find machine", &format!("looking up {who}"), &e),
        )
    })?;
    let Some(first) = found else {
        return Err((
            None,
            error(
                "machine_not_found",
                "Machine not found",
                format!("MAAS knows no machine with {who}."),
            )
            .with_help("A new PC joins MAAS when it PXE-boots from the MAAS network; `brick plan` with the data source maas_machines lists what MAAS knows."),
        ));
    };
    let sid = json_str(&first, "system_id").to_string();
    let user = ctx
        .user()
        .await
        .map_err(|e| {
            (
                None,
                maas_diag(
                    "Cannot identify MAAS user",
                    "asking MAAS who the API key belongs to",
                    &e,
                ),
            )
        })?
        .to_string();
    let timeout = timeout_of(ctx, planned, "create");
    let deadline = Instant::now() + timeout;
    let spec = planned.get("storage").and_then(StorageSpec::from_value);
    let host = json_str(&first, "hostname").to_string();

    let mut commissioned = false;
    let mut storage_done = spec.is_none();
    let mut deployed = false;
    let mut released_for_storage = false;
    let mut pending_conflict: Option<(String, MaasError)> = None;
    let mut pacer = Pacer::new(ctx.settings.poll_interval);
    loop {
        let m = poll(ctx, &sid, deadline).await.map_err(|e| {
            (
                None,
                maas_diag("Cannot read machine", &format!("reading {host}"), &e),
            )
        })?;
        let status = json_str(&m, "status_name").to_string();
        rep.status(&status);
        if let Some((before, e)) = pending_conflict.take()
            && before == status
        {
            return Err((
                None,
                maas_diag(
                    "MAAS refused a step",
                    &format!("bringing {host} from {status} towards Deployed"),
                    &e,
                ),
            ));
        }
        let owner = m.get("owner").and_then(Json::as_str).unwrap_or("");
        let ours = owner == user;
        let partial = |m: &Json| Some(state_from(m, planned));
        if Instant::now() >= deadline {
            return Err((
                if ours { partial(&m) } else { None },
                error(
                    "timeout",
                    "Machine deployment timed out",
                    format!(
                        "{host} was still {status} after {}; MAAS may still be working on it.",
                        fmt_elapsed(timeout)
                    ),
                )
                .with_help("Raise timeouts { create = \"60m\" } for slow machines; the next apply picks the machine up where it is."),
            ));
        }
        // A step answers the machine when MAAS does (its new status is reported at once).
        let step: Result<Option<Json>, MaasError> = match status.as_str() {
            "New" | "Failed commissioning" | "Failed testing" if !commissioned => {
                commissioned = true;
                ctx.client
                    .machine_op(&sid, "commission", &[])
                    .await
                    .map(Some)
            }
            "Failed commissioning" | "Failed testing" => {
                return Err((
                    None,
                    error(
                        "commissioning_failed",
                        "Machine failed commissioning",
                        format!(
                            "{host} ended in {status}: {}",
                            json_str(&m, "status_message")
                        ),
                    )
                    .with_help("See the machine's commissioning results in MAAS."),
                ));
            }
            "New" | "Commissioning" | "Testing" | "Releasing" | "Disk erasing" => Ok(None),
            "Ready" => {
                if deployed {
                    return Err((
                        None,
                        error(
                            "released_during_deploy",
                            "Machine released during deployment",
                            format!(
                                "{host} went back to Ready while brick was deploying it; someone released it."
                            ),
                        ),
                    ));
                }
                if !storage_done {
                    // set_storage_layout starts from scratch, so the whole step can be redone
                    // when a retried call (a 504 whose work was done) trips over its own result.
                    let spec = spec.as_ref().expect("storage pending");
                    let mut attempt = 0;
                    loop {
                        attempt += 1;
                        match apply_storage(ctx, &sid, spec).await {
                            Ok(()) => break,
                            Err(e) if attempt >= 3 => return Err((None, e)),
                            Err(_) => tokio::time::sleep(ctx.settings.poll_interval).await,
                        }
                    }
                    storage_done = true;
                    continue;
                }
                ctx.client
                    .post(
                        "machines/",
                        Some("allocate"),
                        &[("system_id", sid.clone()), ("agent_name", "brick".into())],
                    )
                    .await
                    .map(Some)
            }
            "Allocated" if ours => {
                if !storage_done && spec.as_ref().is_some_and(|want| laid_out_as(&m, want)) {
                    // Re-attached after an interrupted run that laid the storage out and
                    // allocated: the layout is already there, so deploy rather than release
                    // and allocate a second time.
                    storage_done = true;
                }
                if !storage_done && !released_for_storage {
                    // The layout can change only while Ready: give it back, lay out, re-allocate.
                    released_for_storage = true;
                    ctx.client.machine_op(&sid, "release", &[]).await.map(Some)
                } else if !deployed {
                    if let Some(ip) = str_attr(planned, "static_ip")
                        && let Err(d) =
                            ensure_static_ip(ctx, &m, ip, str_attr(planned, "subnet_cidr")).await
                    {
                        return Err((partial(&m), d));
                    }
                    deployed = true;
                    if let Err(d) = record_owner_data(ctx, &sid, planned).await {
                        return Err((partial(&m), d));
                    }
                    let mut params = vec![
                        (
                            "distro_series",
                            str_attr(planned, "distro_series")
                                .unwrap_or(DEFAULT_DISTRO)
                                .to_string(),
                        ),
                        ("agent_name", "brick".to_string()),
                        ("comment", "deployed by brick".to_string()),
                    ];
                    if let Some(k) = str_attr(planned, "hwe_kernel") {
                        params.push(("hwe_kernel", k.to_string()));
                    }
                    if let Some(ud) = str_attr(planned, "user_data") {
                        params.push(("user_data", encode_user_data(ud)));
                    }
                    match ctx.client.machine_op(&sid, "deploy", &params).await {
                        Err(e @ MaasError::BadRequest { .. }) => {
                            return Err((
                                partial(&m),
                                maas_diag("Deployment refused", &format!("deploying {host}"), &e),
                            ));
                        }
                        r => r.map(Some),
                    }
                } else {
                    Ok(None)
                }
            }
            "Deploying" if ours => Ok(None),
            "Deployed" if ours => {
                let same = deployed
                    || (json_str(&m, "distro_series")
                        == str_attr(planned, "distro_series").unwrap_or(DEFAULT_DISTRO)
                        && owner_data(&m, OWNER_USER_DATA).unwrap_or("")
                            == str_attr(planned, "user_data")
                                .map(encode_user_data)
                                .unwrap_or_default());
                if !same {
                    return Err((
                        None,
                        error(
                            "already_deployed",
                            "Machine already deployed",
                            format!("{host} is already Deployed by {user} with another configuration; brick does not redeploy a machine it does not track."),
                        )
                        .with_help("Import it (`brick import`) or release it in MAAS first."),
                    ));
                }
                let want: Option<Vec<String>> = strings_attr(planned, "tags");
                let have: Vec<String> = m
                    .get("tag_names")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(want) = want
                    && let Err(d) = sync_tags(ctx, &sid, &have, &want).await
                {
                    return Err((partial(&m), d));
                }
                let m = poll(ctx, &sid, deadline + Duration::from_secs(60))
                    .await
                    .map_err(|e| {
                        (
                            partial(&m),
                            maas_diag("Cannot read machine", &format!("reading {host}"), &e),
                        )
                    })?;
                return Ok(state_from(&m, planned));
            }
            "Failed deployment" if ours => {
                return Err((
                    partial(&m),
                    error(
                        "deployment_failed",
                        "Machine failed to deploy",
                        format!(
                            "{host} ended in Failed deployment after {}: {}",
                            fmt_elapsed(rep.started.elapsed()),
                            json_str(&m, "status_message")
                        ),
                    )
                    .with_help("See the machine's installation log in MAAS; the next apply releases and redeploys it."),
                ));
            }
            other => {
                let why = if !ours
                    && matches!(
                        other,
                        "Allocated" | "Deploying" | "Deployed" | "Failed deployment"
                    ) {
                    format!(
                        "{host} is {other} and belongs to {}.",
                        if owner.is_empty() {
                            "another user"
                        } else {
                            owner
                        }
                    )
                } else {
                    format!("{host} is {other}, a status brick cannot deploy from.")
                };
                return Err((
                    None,
                    error("machine_unavailable", "Machine not available", why)
                        .with_help("Make the machine Ready in MAAS (release, mark fixed or commission it), then apply again."),
                ));
            }
        };
        match step {
            Ok(Some(m)) => rep.status(json_str(&m, "status_name")),
            Ok(None) => {}
            // A 409 may answer a retried call whose first attempt did the work (a 504 from a
            // gateway while MAAS carried on): the next read decides. Only when the status has
            // not moved is it a real refusal.
            Err(e @ MaasError::Conflict { .. }) => pending_conflict = Some((status.clone(), e)),
            Err(e) if e.is_transient() => {}
            Err(e) => {
                return Err((
                    None,
                    maas_diag(
                        "MAAS refused a step",
                        &format!("bringing {host} from {status} towards Deployed"),
                        &e,
                    ),
                ));
            }
        }
        tokio::time::sleep(pacer.next(&status)).await;
    }
}

fn describe_target(v: &Value) -> String {
    if let Some(id) = str_attr(v, "system_id") {
        format!("system_id {id}")
    } else if let Some(h) = str_attr(v, "hostname") {
        format!("hostname {h}")
    } else if let Some(mac) = str_attr(v, "pxe_mac_address") {
        format!("PXE MAC address {mac}")
    } else {
        "no identifier".into()
    }
}

/// Applies the storage specification while the machine is Ready.
async fn apply_storage(ctx: &Ctx, sid: &str, spec: &StorageSpec) -> Result<(), Diagnostic> {
    let c = &ctx.client;
    let diag = |what: &str, e: &MaasError| maas_diag("Cannot lay out storage", what, e);
    if spec.layout != "lvm" || spec.volumes.is_empty() {
        let mut params = vec![("storage_layout", spec.layout.clone())];
        if spec.layout == "lvm" {
            params.push(("vg_name", VG_NAME.to_string()));
        }
        c.machine_op(sid, "set_storage_layout", &params)
            .await
            .map_err(|e| diag(&format!("setting the {} layout of {sid}", spec.layout), &e))?;
        return Ok(());
    }
    let (root_name, root) = spec.root().ok_or_else(|| {
        error(
            "lvm_root",
            "LVM layout needs one root volume",
            "The lvm layout needs exactly one volume with mount_point = \"/\".".into(),
        )
    })?;
    let mut params = vec![
        ("storage_layout", "lvm".to_string()),
        ("vg_name", VG_NAME.to_string()),
        ("lv_name", root_name.clone()),
    ];
    if root.size != "rest" {
        let bytes = parse_size(&root.size, 0).unwrap_or(0);
        params.push(("lv_size", bytes.to_string()));
    }
    let m = c
        .machine_op(sid, "set_storage_layout", &params)
        .await
        .map_err(|e| diag(&format!("setting the lvm layout of {sid}"), &e))?;
    let vg = m
        .get("volume_groups")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().find(|v| json_str(v, "name") == VG_NAME))
        .map(|v| json_i64(v, "id"))
        .ok_or_else(|| {
            error(
                "no_volume_group",
                "Volume group missing",
                format!("After the lvm layout, MAAS shows no volume group {VG_NAME} on {sid}."),
            )
        })?;
    let root_lv = m
        .get("volume_groups")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().find(|v| json_str(v, "name") == VG_NAME))
        .and_then(|v| v.get("logical_volumes").and_then(Json::as_array))
        .and_then(|lvs| lvs.first())
        .map(|lv| json_i64(lv, "id"));
    // The root volume is ext4 at "/" after the layout; honour another fstype.
    if let (Some(lv), Some(fstype)) = (root_lv, root.fstype.as_deref())
        && fstype != "ext4"
    {
        let path = format!("nodes/{sid}/blockdevices/{lv}/");
        for (op, p, effect) in [
            ("unmount", vec![], Effect::Unmounted { device: lv }),
            ("unformat", vec![], Effect::Unformatted { device: lv }),
            (
                "format",
                vec![("fstype", fstype.to_string())],
                Effect::Formatted { device: lv, fstype },
            ),
            (
                "mount",
                vec![("mount_point", "/".to_string())],
                Effect::Mounted {
                    device: lv,
                    mount_point: "/",
                },
            ),
        ] {
            storage_op(c, sid, &path, op, &p, &effect)
                .await
                .map_err(|e| diag(&format!("{op} of the root volume of {sid}"), &e))?;
        }
    }
    // Fixed sizes first, then the one that takes the rest.
    let mut others: Vec<(&String, &VolumeSpec)> = spec
        .volumes
        .iter()
        .filter(|(n, _)| *n != root_name)
        .collect();
    others.sort_by_key(|(n, v)| (v.size == "rest", (*n).clone()));
    for (name, vol) in others {
        let mut p = vec![("name", name.clone())];
        let size = (vol.size != "rest").then(|| parse_size(&vol.size, 0).unwrap_or(0));
        if let Some(size) = size {
            p.push(("size", size.to_string()));
        }
        let lv = storage_op(
            c,
            sid,
            &format!("nodes/{sid}/volume-group/{vg}/"),
            "create_logical_volume",
            &p,
            &Effect::Lv { vg, name, size },
        )
        .await
        .map_err(|e| diag(&format!("creating volume {name} on {sid}"), &e))?;
        let id = json_i64(&lv, "id");
        let path = format!("nodes/{sid}/blockdevices/{id}/");
        if let Some(fstype) = &vol.fstype {
            let effect = Effect::Formatted { device: id, fstype };
            storage_op(
                c,
                sid,
                &path,
                "format",
                &[("fstype", fstype.clone())],
                &effect,
            )
            .await
            .map_err(|e| diag(&format!("formatting volume {name} on {sid}"), &e))?;
            if let Some(mp) = &vol.mount_point {
                let effect = Effect::Mounted {
                    device: id,
                    mount_point: mp,
                };
                storage_op(
                    c,
                    sid,
                    &path,
                    "mount",
                    &[("mount_point", mp.clone())],
                    &effect,
                )
                .await
                .map_err(|e| diag(&format!("mounting volume {name} on {sid}"), &e))?;
            }
        }
    }
    Ok(())
}

/// What a storage operation leaves on the machine, to read back when its answer was lost.
enum Effect<'a> {
    /// A logical volume `name` in volume group `vg`, of `size` bytes (to an LVM extent) when
    /// one was asked for.
    Lv {
        vg: i64,
        name: &'a str,
        size: Option<u64>,
    },
    /// The block device's filesystem is there and not mounted.
    Unmounted { device: i64 },
    /// The block device has no filesystem.
    Unformatted { device: i64 },
    /// The block device has a filesystem of `fstype`.
    Formatted { device: i64, fstype: &'a str },
    /// The block device's filesystem is mounted at `mount_point`.
    Mounted { device: i64, mount_point: &'a str },
}

/// LVM's extent: MAAS rounds a logical volume's size to it.
const LVM_EXTENT: u64 = 4 * 1024 * 1024;

impl Effect<'_> {
    /// The object the operation would have answered (the logical volume or block device),
    /// when its effect is on the machine.
    async fn read_back(&self, c: &MaasClient, sid: &str) -> Result<Option<Json>, MaasError> {
        let device = match *self {
            Effect::Lv { vg, name, size } => {
                let group = c
                    .get(&format!("nodes/{sid}/volume-group/{vg}/"), &[])
                    .await?;
                let full = format!("{}-{name}", json_str(&group, "name"));
                let lv = group
                    .get("logical_volumes")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .find(|lv| {
                        let n = json_str(lv, "name");
                        let got = lv.get("size").and_then(Json::as_u64).unwrap_or(0);
                        (n == name || n == full)
                            && size.is_none_or(|want| got.abs_diff(want) < LVM_EXTENT)
                    });
                return Ok(lv.cloned());
            }
            Effect::Unmounted { device }
            | Effect::Unformatted { device }
            | Effect::Formatted { device, .. }
            | Effect::Mounted { device, .. } => device,
        };
        let dev = c
            .get(&format!("nodes/{sid}/blockdevices/{device}/"), &[])
            .await?;
        let fs = dev.get("filesystem").filter(|f| !f.is_null());
        let mount_point = fs.and_then(|f| f.get("mount_point")).and_then(Json::as_str);
        let done = match *self {
            Effect::Lv { .. } => false,
            Effect::Unmounted { .. } => fs.is_some() && mount_point.is_none(),
            Effect::Unformatted { .. } => fs.is_none(),
            Effect::Formatted { fstype, .. } => fs.is_some_and(|f| json_str(f, "fstype") == fstype),
            Effect::Mounted {
                mount_point: mp, ..
            } => mount_point == Some(mp),
        };
        Ok(done.then_some(dev))
    }
}

/// Sends a storage operation that must not be sent twice blindly (MAAS refuses the repeat —
/// "Logical volume with this name already exists", "Filesystem is already unmounted" — or
/// does the work again). When its answer is lost after it was sent (a gateway's 504 while
/// MAAS carried on, a connection cut), the machine's storage is read back: the operation is
/// done when its `effect` is there, and sent again only when it is not.
async fn storage_op(
    c: &MaasClient,
    sid: &str,
    path: &str,
    op: &str,
    params: &[(&str, String)],
    effect: &Effect<'_>,
) -> Result<Json, MaasError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match c.post_once(path, op, params).await {
            Err(e @ MaasError::Unconfirmed { .. }) => {
                if let Some(done) = effect.read_back(c, sid).await? {
                    return Ok(done);
                }
                if attempt >= 5 {
                    return Err(e);
                }
            }
            other => return other,
        }
    }
}

/// Releases the machine (erasing when asked), waits for Ready, and gives back the static
/// address brick gave it.
async fn release(ctx: &Ctx, prior: &Value, rep: &mut Reporter<'_>) -> Result<(), Diagnostic> {
    release_machine(ctx, prior, rep).await?;
    match (str_attr(prior, "system_id"), str_attr(prior, "static_ip")) {
        (Some(sid), Some(ip)) if !sid.is_empty() => give_back_static_ip(ctx, sid, ip).await,
        _ => Ok(()),
    }
}

async fn release_machine(
    ctx: &Ctx,
    prior: &Value,
    rep: &mut Reporter<'_>,
) -> Result<(), Diagnostic> {
    let sid = str_attr(prior, "system_id").unwrap_or("").to_string();
    if sid.is_empty() {
        return Ok(());
    }
    let timeout = timeout_of(ctx, prior, "delete");
    let deadline = Instant::now() + timeout;
    let erase = bool_attr(prior, "erase").unwrap_or(false);
    let mut sent = false;
    let mut pacer = Pacer::new(ctx.settings.poll_interval);
    loop {
        let m = match poll(ctx, &sid, deadline).await {
            Ok(m) => m,
            Err(MaasError::NotFound { .. }) => return Ok(()),
            Err(e) => {
                return Err(maas_diag(
                    "Cannot read machine",
                    &format!("reading {sid}"),
                    &e,
                ));
            }
        };
        let status = json_str(&m, "status_name").to_string();
        rep.status(&status);
        match status.as_str() {
            "Ready" | "New" => return Ok(()),
            "Releasing" | "Disk erasing" | "Commissioning" | "Testing" => {}
            "Failed disk erasing" | "Releasing failed" if sent => {
                return Err(error(
                    "release_failed",
                    "Machine failed to release",
                    format!(
                        "{} ended in {status}: {}",
                        json_str(&m, "hostname"),
                        json_str(&m, "status_message")
                    ),
                ));
            }
            _ if !sent => {
                sent = true;
                let params = if erase {
                    vec![("erase", "true".to_string())]
                } else {
                    vec![]
                };
                match ctx.client.machine_op(&sid, "release", &params).await {
                    Ok(m) => rep.status(json_str(&m, "status_name")),
                    Err(MaasError::Conflict { .. }) => {}
                    Err(e) if e.is_transient() => {}
                    Err(e) => {
                        return Err(maas_diag(
                            "Cannot release machine",
                            &format!("releasing {sid}"),
                            &e,
                        ));
                    }
                }
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(error(
                "timeout",
                "Machine release timed out",
                format!("{sid} was still {status} after {}.", fmt_elapsed(timeout)),
            ));
        }
        tokio::time::sleep(pacer.next(&status)).await;
    }
}

// ---- read, read_many, import -------------------------------------------------------------------------

/// The refreshed state, or `None` when brick's deployment is gone (released, reallocated).
fn refreshed(m: &Json, current: &Value, user: &str) -> Option<Value> {
    let status = json_str(m, "status_name");
    let owner = m.get("owner").and_then(Json::as_str).unwrap_or("");
    let gone = matches!(
        status,
        "New"
            | "Commissioning"
            | "Testing"
            | "Ready"
            | "Allocated"
            | "Releasing"
            | "Disk erasing"
            | "Failed commissioning"
            | "Failed testing"
    ) || (!owner.is_empty() && owner != user);
    if gone {
        return None;
    }
    let state = state_from(m, current);
    // brick's user_data lives in the owner data, which a release clears: a machine released
    // and deployed again (by this user, outside brick) no longer runs it.
    match str_attr(current, "user_data").filter(|u| !u.is_empty()) {
        Some(recorded) if owner_data(m, OWNER_USER_DATA) != Some(&encode_user_data(recorded)) => {
            let now = owner_data(m, OWNER_USER_DATA)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            Some(with_attr(&state, "user_data", opt_s(now.as_deref())))
        }
        _ => Some(state),
    }
}

pub async fn read(ctx: &Ctx, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let sid = str_attr(current, "system_id").unwrap_or("");
    let user = ctx
        .user()
        .await
        .map_err(|e| {
            vec![maas_diag(
                "Cannot identify MAAS user",
                "asking MAAS who the API key belongs to",
                &e,
            )]
        })?
        .to_string();
    match ctx.client.machine(sid).await {
        Ok(m) => Ok(refreshed(&m, current, &user)),
        Err(MaasError::NotFound { .. }) => Ok(None),
        Err(e) => Err(vec![maas_diag(
            "Cannot read machine",
            &format!("reading machine {sid}"),
            &e,
        )]),
    }
}

/// One `GET machines/` for every machine of the run.
pub async fn read_many(ctx: &Ctx, current: &[Value]) -> Vec<Result<Option<Value>, Diagnostics>> {
    let all = async {
        let user = ctx.user().await?.to_string();
        let list = ctx.client.machines(&[]).await?;
        Ok::<_, MaasError>((user, list))
    }
    .await;
    match all {
        Ok((user, list)) => {
            let by_id: BTreeMap<&str, &Json> =
                list.iter().map(|m| (json_str(m, "system_id"), m)).collect();
            current
                .iter()
                .map(|c| {
                    let sid = str_attr(c, "system_id").unwrap_or("");
                    Ok(by_id.get(sid).and_then(|m| refreshed(m, c, &user)))
                })
                .collect()
        }
        Err(e) => {
            let d = vec![maas_diag("Cannot list machines", "refreshing machines", &e)];
            current.iter().map(|_| Err(d.clone())).collect()
        }
    }
}

/// Imports by hostname or system_id. What brick recorded in owner data (user_data, storage)
/// comes back exactly; for a machine deployed by other means, the storage is read from its
/// volume group.
pub async fn import(ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
    let c = &ctx.client;
    let diag = |e: &MaasError| {
        vec![maas_diag(
            "Cannot import machine",
            &format!("looking up {id}"),
            e,
        )]
    };
    let mut found = c
        .machines(&[("hostname", id.to_string())])
        .await
        .map_err(|e| diag(&e))?
        .into_iter()
        .next();
    if found.is_none() {
        found = match c.machine(id).await {
            Ok(m) => Some(m),
            Err(MaasError::NotFound { .. }) => None,
            Err(e) => return Err(diag(&e)),
        };
    }
    let Some(m) = found else {
        return Err(vec![error(
            "machine_not_found",
            "Machine not found",
            format!("MAAS knows no machine with hostname or system_id \"{id}\"."),
        )]);
    };
    // Only a deployment of this user is a maas_machine object; say what the machine is instead
    // of letting the read after the import call it non-existent.
    let user = ctx.user().await.map_err(|e| diag(&e))?.to_string();
    if refreshed(&m, &Value::null_dynamic(), &user).is_none() {
        let host = json_str(&m, "hostname");
        let status = json_str(&m, "status_name");
        let owner = m.get("owner").and_then(Json::as_str).unwrap_or("");
        let (detail, help) = if !owner.is_empty() && owner != user {
            (
                format!(
                    "{host} is {status} and belongs to {owner}, not to {user} (the user of the provider's API key); a maas_machine is a deployment of that user."
                ),
                "Import it with the key of its owner, or release it in MAAS first.".to_string(),
            )
        } else {
            (
                format!(
                    "{host} is {status}: it is not deployed, so there is no deployment to import (a maas_machine is a machine deployed by brick's MAAS user)."
                ),
                format!(
                    "No import is needed: declare the resource (e.g. `hostname = \"{host}\"`) and apply; brick {} and deploys it.",
                    if status == "New" {
                        "commissions"
                    } else {
                        "allocates"
                    }
                ),
            )
        };
        return Err(vec![
            error("import_not_deployed", "Cannot import machine", detail).with_help(help),
        ]);
    }
    let user_data = owner_data(&m, OWNER_USER_DATA)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let storage = owner_data(&m, OWNER_STORAGE)
        .and_then(|s| serde_json::from_str::<StorageSpec>(s).ok())
        .or_else(|| storage_from_machine(&m));
    let hwe = match json_str(&m, "hwe_kernel") {
        "" => None,
        k => Some(k.to_string()),
    };
    let carry = Value::object_from([
        ("user_data", opt_s(user_data.as_deref())),
        (
            "storage",
            storage.map_or_else(|| Value::null(storage_type()), |s| s.to_value()),
        ),
        ("hwe_kernel", opt_s(hwe.as_deref())),
        ("erase", Value::bool(false)),
    ]);
    let mut state = state_from(&m, &carry);
    state = with_attr(&state, "static_ip", opt_s(boot_static_ip(&m).as_deref()));
    // What MAAS picked by itself is not the user's choice.
    if owner_data(&m, OWNER_USER_DATA).is_some() || hwe.is_none() {
        state = with_attr(&state, "hwe_kernel", Value::null(Type::String));
    }
    Ok(state)
}

/// Whether the machine's disks are already laid out as `want`: its volume group holds exactly
/// the LVM volumes asked for. Only an LVM layout with volumes can be told apart from what MAAS
/// shows; any other layout is laid out again.
fn laid_out_as(m: &Json, want: &StorageSpec) -> bool {
    want.layout == "lvm"
        && !want.volumes.is_empty()
        && m.get("volume_groups")
            .and_then(Json::as_array)
            .is_some_and(|vgs| vgs.iter().any(|v| json_str(v, "name") == VG_NAME))
        && storage_from_machine(m).is_some_and(|have| have.equivalent(want))
}

/// A storage specification read back from the machine's volume group (sizes in bytes).
fn storage_from_machine(m: &Json) -> Option<StorageSpec> {
    let vgs = m.get("volume_groups").and_then(Json::as_array)?;
    let Some(vg) = vgs.iter().find(|v| json_str(v, "name") == VG_NAME) else {
        return Some(StorageSpec {
            layout: m
                .get("storage_layout")
                .and_then(Json::as_str)
                .unwrap_or("flat")
                .to_string(),
            volumes: BTreeMap::new(),
        });
    };
    let mut volumes = BTreeMap::new();
    let prefix = format!("{VG_NAME}-");
    for lv in vg
        .get("logical_volumes")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let name = json_str(lv, "name");
        let fs = lv.get("filesystem").filter(|f| !f.is_null());
        volumes.insert(
            name.strip_prefix(&prefix).unwrap_or(name).to_string(),
            VolumeSpec {
                size: json_i64(lv, "size").to_string(),
                fstype: fs.map(|f| json_str(f, "fstype").to_string()),
                mount_point: fs
                    .and_then(|f| f.get("mount_point"))
                    .and_then(Json::as_str)
                    .map(str::to_string),
            },
        );
    }
    Some(StorageSpec {
        layout: "lvm".into(),
        volumes,
    })
}

/// Whether a value has every attribute the schema declares (for tests).
pub fn conforms(v: &Value) -> bool {
    let b = schema().block;
    b.attributes
        .keys()
        .chain(b.blocks.keys())
        .all(|k| v.get(k).is_some())
        && is_set(v, "id")
}

// ---- plan-time checks ----------------------------------------------------------------------

/// The storage volumes of a planned machine that cannot fit on its boot disk (where MAAS lays
/// the storage out), read from MAAS as it is now: the fixed sizes together must not exceed the
/// disk. `Ok(None)` when nothing can be checked (no storage, unknown sizes, unknown machine).
pub async fn check_storage_fits(
    ctx: &Ctx,
    planned: &Value,
) -> Result<Option<Diagnostic>, MaasError> {
    let Some(spec) = planned.get("storage").and_then(StorageSpec::from_value) else {
        return Ok(None);
    };
    if spec.volumes.is_empty() {
        return Ok(None);
    }
    let Some(m) = find(ctx, planned).await? else {
        return Ok(None);
    };
    let disk = m
        .get("boot_disk")
        .and_then(|d| d.get("size"))
        .and_then(Json::as_u64)
        .unwrap_or(0);
    if disk == 0 {
        return Ok(None);
    }
    let mut total: u64 = 0;
    let mut fixed = Vec::new();
    for (name, v) in &spec.volumes {
        if v.size == "rest" {
            continue;
        }
        let Some(bytes) = parse_size(&v.size, disk) else {
            continue;
        };
        total = total.saturating_add(bytes);
        fixed.push(format!("{name} = {}", v.size));
    }
    if total <= disk {
        return Ok(None);
    }
    let host = json_str(&m, "hostname");
    let gb = |b: u64| format!("{:.1} GB", b as f64 / 1e9);
    Ok(Some(
        error(
            "storage_too_large",
            "Storage larger than the machine's disk",
            format!(
                "The volumes of {host} need {} ({}) but its boot disk {} holds {}.",
                gb(total),
                fixed.join(", "),
                json_str(m.get("boot_disk").unwrap_or(&Json::Null), "name"),
                gb(disk)
            ),
        )
        .with_help("Make the volumes smaller (one volume may take size = \"rest\"), or pick a machine with a larger disk (maas_machine.block_devices shows its disks).")
        .at(["storage"]),
    ))
}
