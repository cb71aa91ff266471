//! The simulated MAAS region: machines with MAAS's status machine, tags, and the operations of
//! the API, independent of HTTP. Time moves through [`World::advance`]: a machine in a
//! transitional status (Commissioning, Deploying, Releasing, …) carries a timeline of the
//! statuses it will reach and when, scaled by the simulator's time scale.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value as Json, json};

use super::params::Params;
use super::storage::{BlockDevice, DeviceKind, IdGen, LayoutOptions, Storage, parse_size};

/// MAAS's node statuses, with MAAS's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    New = 0,
    Commissioning = 1,
    FailedCommissioning = 2,
    Missing = 3,
    Ready = 4,
    Reserved = 5,
    Deployed = 6,
    Retired = 7,
    Broken = 8,
    Deploying = 9,
    Allocated = 10,
    FailedDeployment = 11,
    Releasing = 12,
    FailedReleasing = 13,
    DiskErasing = 14,
    FailedDiskErasing = 15,
    RescueMode = 16,
    EnteringRescueMode = 17,
    FailedEnteringRescueMode = 18,
    ExitingRescueMode = 19,
    FailedExitingRescueMode = 20,
    Testing = 21,
    FailedTesting = 22,
}

pub const ALL_STATUSES: [Status; 23] = [
    Status::New,
    Status::Commissioning,
    Status::FailedCommissioning,
    Status::Missing,
    Status::Ready,
    Status::Reserved,
    Status::Deployed,
    Status::Retired,
    Status::Broken,
    Status::Deploying,
    Status::Allocated,
    Status::FailedDeployment,
    Status::Releasing,
    Status::FailedReleasing,
    Status::DiskErasing,
    Status::FailedDiskErasing,
    Status::RescueMode,
    Status::EnteringRescueMode,
    Status::FailedEnteringRescueMode,
    Status::ExitingRescueMode,
    Status::FailedExitingRescueMode,
    Status::Testing,
    Status::FailedTesting,
];

impl Status {
    /// MAAS's display name (`status_name`).
    pub fn name(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::Commissioning => "Commissioning",
            Status::FailedCommissioning => "Failed commissioning",
            Status::Missing => "Missing",
            Status::Ready => "Ready",
            Status::Reserved => "Reserved",
            Status::Deployed => "Deployed",
            Status::Retired => "Retired",
            Status::Broken => "Broken",
            Status::Deploying => "Deploying",
            Status::Allocated => "Allocated",
            Status::FailedDeployment => "Failed deployment",
            Status::Releasing => "Releasing",
            Status::FailedReleasing => "Releasing failed",
            Status::DiskErasing => "Disk erasing",
            Status::FailedDiskErasing => "Failed disk erasing",
            Status::RescueMode => "Rescue mode",
            Status::EnteringRescueMode => "Entering rescue mode",
            Status::FailedEnteringRescueMode => "Failed to enter rescue mode",
            Status::ExitingRescueMode => "Exiting rescue mode",
            Status::FailedExitingRescueMode => "Failed to exit rescue mode",
            Status::Testing => "Testing",
            Status::FailedTesting => "Failed testing",
        }
    }
    pub fn number(self) -> u8 {
        self as u8
    }
    /// Parses a status filter: a number, a display name or a snake_case name.
    pub fn parse(s: &str) -> Option<Status> {
        let norm = s.trim().to_ascii_lowercase().replace('_', " ");
        ALL_STATUSES
            .iter()
            .copied()
            .find(|st| st.number().to_string() == norm || st.name().to_ascii_lowercase() == norm)
    }
}

/// Realistic durations of MAAS's long operations, before the time scale.
#[derive(Clone, Debug)]
pub struct Durations {
    pub commissioning: Duration,
    pub testing: Duration,
    pub deploying: Duration,
    pub releasing: Duration,
    pub erasing: Duration,
    pub quick_erasing: Duration,
    pub secure_erasing: Duration,
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            commissioning: Duration::from_secs(300),
            testing: Duration::from_secs(120),
            deploying: Duration::from_secs(600),
            releasing: Duration::from_secs(30),
            erasing: Duration::from_secs(900),
            quick_erasing: Duration::from_secs(60),
            secure_erasing: Duration::from_secs(300),
        }
    }
}

/// Errors of the API, rendered as MAAS renders them.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// 400 with a plain-text body.
    BadRequest(String),
    /// 400 with a JSON form-error body `{"field": ["message"]}`.
    Form(BTreeMap<String, Vec<String>>),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    /// 409 state violation.
    Conflict(String),
}

impl SimError {
    pub fn form(field: &str, msg: &str) -> SimError {
        let mut m = BTreeMap::new();
        m.insert(field.to_string(), vec![msg.to_string()]);
        SimError::Form(m)
    }
    pub fn no_machine() -> SimError {
        SimError::NotFound("No Machine matches the given query.".into())
    }
}

/// How an interface is linked to a subnet (MAAS's link modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// An address from the subnet is assigned when the machine is deployed.
    Auto,
    /// A fixed address, reserved for the interface from the moment it is linked.
    Static,
    Dhcp,
    /// Up, without an address.
    LinkUp,
}

impl LinkMode {
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Auto => "auto",
            LinkMode::Static => "static",
            LinkMode::Dhcp => "dhcp",
            LinkMode::LinkUp => "link_up",
        }
    }
    pub fn parse(s: &str) -> Option<LinkMode> {
        [
            LinkMode::Auto,
            LinkMode::Static,
            LinkMode::Dhcp,
            LinkMode::LinkUp,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(s))
    }
}

/// One link of an interface (`links` in MAAS's interface JSON).
#[derive(Clone, Debug)]
pub struct Link {
    pub id: u64,
    pub mode: LinkMode,
    /// The address of a STATIC link.
    pub ip: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Interface {
    pub id: u64,
    pub name: String,
    pub mac: String,
    /// The address an AUTO link gets when the machine is deployed.
    pub ip: String,
    /// After commissioning: one AUTO link on the machines' subnet.
    pub links: Vec<Link>,
}

impl Interface {
    /// The interface's address: its STATIC link's, else (deployed) its AUTO link's.
    pub fn address(&self, deployed: bool) -> Option<String> {
        self.links.iter().find_map(|l| l.ip.clone()).or_else(|| {
            (deployed && self.links.iter().any(|l| l.mode == LinkMode::Auto))
                .then(|| self.ip.clone())
        })
    }
}

/// Hardware that commissioning discovers.
#[derive(Clone, Debug)]
pub struct Hardware {
    pub cpu_count: u32,
    pub memory_mib: u64,
    pub disks: Vec<(String, u64, String)>,
}

#[derive(Clone, Debug)]
pub struct Machine {
    pub system_id: String,
    pub hostname: String,
    pub domain: String,
    pub status: Status,
    pub power_state: &'static str,
    pub power_type: String,
    pub architecture: String,
    pub hardware: Hardware,
    /// Whether commissioning has revealed the hardware (New machines show none).
    pub commissioned: bool,
    pub interfaces: Vec<Interface>,
    pub storage: Storage,
    pub owner: Option<String>,
    pub osystem: String,
    pub distro_series: String,
    pub hwe_kernel: Option<String>,
    pub user_data: Option<Vec<u8>>,
    pub tags: Vec<String>,
    pub pool: String,
    pub zone: String,
    pub agent_name: String,
    /// Key/value data of the machine's owner (`set_owner_data`); cleared on release.
    pub owner_data: BTreeMap<String, String>,
    pub status_message: String,
    /// Deployments of this machine fail (fault injection).
    pub fails_deploy: bool,
    /// Statuses to reach, and when.
    pub timeline: VecDeque<(Instant, Status)>,
    /// The status before `mark_broken`, to return to on `mark_fixed`.
    pub before_broken: Option<Status>,
    /// The record of the current or last installation (`current_installation_result_id`):
    /// as in MAAS, every deployment makes a new one, and release keeps the last.
    pub installation_result_id: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Tag {
    pub name: String,
    pub comment: String,
    pub definition: String,
    pub kernel_opts: String,
}

pub const DISTRO_SERIES: &[&str] = &["bionic", "focal", "jammy", "noble"];

/// The whole simulated region.
pub struct World {
    pub machines: Vec<Machine>,
    pub tags: BTreeMap<String, Tag>,
    pub ids: IdGen,
    pub durations: Durations,
    pub time_scale: f64,
    pub username: String,
    pub default_distro_series: String,
    /// The first three octets of machines' addresses (`10.0.0`).
    pub network: String,
    /// Told of deployments and releases.
    pub hook: Option<super::Hook>,
    /// The id the next deployment's installation record gets (MAAS's script set ids; 1 and 2
    /// are commissioning's and testing's).
    pub next_installation_id: u64,
}

impl World {
    pub fn new(seed: u64, durations: Durations, time_scale: f64) -> World {
        World {
            machines: Vec::new(),
            tags: BTreeMap::new(),
            ids: IdGen::new(seed),
            durations,
            time_scale,
            username: "admin".into(),
            default_distro_series: "jammy".into(),
            network: "10.0.0".into(),
            hook: None,
            next_installation_id: 3,
        }
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale.max(0.0))
    }

    /// Adds a machine; `ready` ones are commissioned with the default (flat) layout.
    pub fn add_machine(
        &mut self,
        hostname: &str,
        hardware: Hardware,
        macs: &[&str],
        ready: bool,
    ) -> String {
        let system_id = loop {
            let id = self.ids.system_id();
            if !self.machines.iter().any(|m| m.system_id == id) {
                break id;
            }
        };
        let n = self.machines.len() as u64 + 10;
        let interfaces = macs
            .iter()
            .enumerate()
            .map(|(i, mac)| Interface {
                id: self.ids.next_id(),
                name: format!("eno{}", i + 1),
                mac: mac.to_string(),
                ip: format!("{}.{}", self.network, n + 100 * i as u64),
                links: vec![Link {
                    id: self.ids.next_id(),
                    mode: LinkMode::Auto,
                    ip: None,
                }],
            })
            .collect();
        let mut m = Machine {
            system_id: system_id.clone(),
            hostname: hostname.to_string(),
            domain: "maas".into(),
            status: Status::New,
            power_state: "off",
            power_type: "ipmi".into(),
            architecture: "amd64/generic".into(),
            hardware,
            commissioned: false,
            interfaces,
            storage: Storage::default(),
            owner: None,
            osystem: String::new(),
            distro_series: String::new(),
            hwe_kernel: None,
            user_data: None,
            tags: Vec::new(),
            pool: "default".into(),
            zone: "default".into(),
            agent_name: String::new(),
            owner_data: BTreeMap::new(),
            status_message: String::new(),
            fails_deploy: false,
            timeline: VecDeque::new(),
            before_broken: None,
            installation_result_id: None,
        };
        if ready {
            self.finish_commissioning(&mut m);
            m.status = Status::Ready;
        }
        self.machines.push(m);
        system_id
    }

    fn finish_commissioning(&mut self, m: &mut Machine) {
        if !m.commissioned {
            m.commissioned = true;
            m.storage.devices = m
                .hardware
                .disks
                .iter()
                .enumerate()
                .map(|(i, (name, size, model))| BlockDevice {
                    id: self.ids.next_id(),
                    name: name.clone(),
                    kind: DeviceKind::Physical,
                    size: *size,
                    block_size: 512,
                    model: Some(model.clone()),
                    serial: Some(format!("S{}{:04}", m.system_id.to_uppercase(), i + 1)),
                    id_path: Some(format!(
                        "/dev/disk/by-id/ata-{}_S{}{:04}",
                        model.replace(' ', "_"),
                        m.system_id.to_uppercase(),
                        i + 1
                    )),
                    tags: vec![
                        if model.contains("SSD") {
                            "ssd"
                        } else {
                            "rotary"
                        }
                        .into(),
                    ],
                    uuid: None,
                    partitions: Vec::new(),
                    fs: None,
                })
                .collect();
        }
        // MAAS applies the default storage layout (flat) after commissioning.
        let mut ids = self.ids.clone();
        let _ = m
            .storage
            .apply_layout(&mut ids, "flat", &LayoutOptions::default());
        self.ids = ids;
    }

    /// Moves every machine along its timeline up to `now`.
    pub fn advance(&mut self, now: Instant) {
        for i in 0..self.machines.len() {
            loop {
                let due = matches!(self.machines[i].timeline.front(), Some((at, _)) if *at <= now);
                if !due {
                    break;
                }
                let (_, to) = self.machines[i].timeline.pop_front().expect("front exists");
                let mut m = self.machines[i].clone();
                self.enter(&mut m, to);
                self.machines[i] = m;
            }
        }
    }

    /// The effects of reaching a status.
    fn enter(&mut self, m: &mut Machine, to: Status) {
        match to {
            Status::Testing => {
                self.finish_commissioning(m);
            }
            Status::Ready => {
                if matches!(m.status, Status::Releasing | Status::DiskErasing) {
                    if let Some(h) = &self.hook {
                        h.0.released(&m.hostname);
                    }
                    m.owner = None;
                    m.osystem.clear();
                    m.distro_series.clear();
                    m.hwe_kernel = None;
                    m.user_data = None;
                    m.agent_name.clear();
                    m.owner_data.clear();
                }
                m.power_state = "off";
            }
            Status::Deployed => {
                m.power_state = "on";
                if let Some(h) = &self.hook {
                    h.0.deployed(&super::DeployedMachine {
                        hostname: m.hostname.clone(),
                        system_id: m.system_id.clone(),
                        user_data: m.user_data.clone().unwrap_or_default(),
                        cpu_count: m.hardware.cpu_count,
                        memory_mib: m.hardware.memory_mib,
                        disks: m.hardware.disks.iter().map(|d| d.1).collect(),
                        volumes: m
                            .storage
                            .devices
                            .iter()
                            .filter(|d| matches!(d.kind, DeviceKind::Virtual { .. }))
                            .map(|d| (Storage::device_path(d), d.size))
                            .collect(),
                        addresses: m
                            .interfaces
                            .iter()
                            .filter_map(|i| i.address(true))
                            .collect(),
                    });
                }
            }
            Status::FailedDeployment => {
                m.status_message =
                    "Installation failed (refer to the installation log for more information)."
                        .into();
            }
            Status::DiskErasing => {
                m.power_state = "on";
            }
            _ => {}
        }
        m.status = to;
        if m.status_message.is_empty() || to != Status::FailedDeployment {
            m.status_message = match to {
                Status::Deploying => "Deploying".into(),
                Status::Deployed => "Deployed".into(),
                Status::FailedDeployment => m.status_message.clone(),
                _ => String::new(),
            };
        }
    }

    fn schedule(&mut self, idx: usize, now: Instant, steps: &[(Duration, Status)]) {
        let mut at = now;
        let scaled: Vec<(Duration, Status)> =
            steps.iter().map(|(d, s)| (self.scaled(*d), *s)).collect();
        let m = &mut self.machines[idx];
        m.timeline.clear();
        for (d, s) in scaled {
            at += d;
            m.timeline.push_back((at, s));
        }
    }

    pub fn index(&self, system_id: &str) -> Result<usize, SimError> {
        self.machines
            .iter()
            .position(|m| m.system_id == system_id)
            .ok_or_else(SimError::no_machine)
    }

    pub fn by_hostname(&self, hostname: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.hostname == hostname)
    }

    // ---- machines: reads -----------------------------------------------------------------

    pub fn list(&self, p: &Params) -> Vec<&Machine> {
        let hostnames = p.all("hostname");
        let ids = p.all("id");
        let macs: Vec<String> = p
            .all("mac_address")
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect();
        let tags = p.list("tags");
        let statuses: Vec<Option<Status>> =
            p.all("status").iter().map(|s| Status::parse(s)).collect();
        let pools = p.all("pool");
        let zones = p.all("zone");
        let domains = p.all("domain");
        let agents = p.all("agent_name");
        self.machines
            .iter()
            .filter(|m| {
                (hostnames.is_empty()
                    || hostnames
                        .iter()
                        .any(|h| *h == m.hostname || *h == format!("{}.{}", m.hostname, m.domain)))
                    && (ids.is_empty() || ids.contains(&m.system_id.as_str()))
                    && (macs.is_empty()
                        || m.interfaces
                            .iter()
                            .any(|i| macs.contains(&i.mac.to_ascii_lowercase())))
                    && tags.iter().all(|t| m.tags.contains(t))
                    && (statuses.is_empty() || statuses.contains(&Some(m.status)))
                    && (pools.is_empty() || pools.contains(&m.pool.as_str()))
                    && (zones.is_empty() || zones.contains(&m.zone.as_str()))
                    && (domains.is_empty() || domains.contains(&m.domain.as_str()))
                    && (agents.is_empty() || agents.contains(&m.agent_name.as_str()))
            })
            .collect()
    }

    // ---- machines: operations ------------------------------------------------------------

    pub fn allocate(&mut self, p: &Params, user: &str) -> Result<usize, SimError> {
        let cpu =
            match p.get("cpu_count") {
                Some(c) => Some(c.parse::<f64>().map_err(|_| {
                    SimError::form("cpu_count", "Invalid CPU count: number required.")
                })? as u32),
                None => None,
            };
        let mem = match p.get("mem") {
            Some(c) => Some(
                c.parse::<f64>()
                    .map_err(|_| SimError::form("mem", "Invalid memory: number of MiB required."))?
                    as u64,
            ),
            None => None,
        };
        let tags = p.list("tags");
        let not_tags = p.list("not_tags");
        for t in &tags {
            if !self.tags.contains_key(t) {
                return Err(SimError::form("tags", &format!("No such tag(s): '{t}'.")));
            }
        }
        let name = p
            .get("name")
            .map(|n| n.split('.').next().unwrap_or(n).to_string());
        let system_id = p.get("system_id");
        let zone = p.get("zone");
        let pool = p.get("pool");
        let found = self.machines.iter().position(|m| {
            m.status == Status::Ready
                && name.as_ref().is_none_or(|n| *n == m.hostname)
                && system_id.is_none_or(|s| s == m.system_id)
                && cpu.is_none_or(|c| m.hardware.cpu_count >= c)
                && mem.is_none_or(|mm| m.hardware.memory_mib >= mm)
                && tags.iter().all(|t| m.tags.contains(t))
                && not_tags.iter().all(|t| !m.tags.contains(t))
                && zone.is_none_or(|z| z == m.zone)
                && pool.is_none_or(|pl| pl == m.pool)
        });
        let Some(idx) = found else {
            return Err(SimError::Conflict("No machine available.".into()));
        };
        let m = &mut self.machines[idx];
        m.status = Status::Allocated;
        m.owner = Some(user.to_string());
        m.agent_name = p.get("agent_name").unwrap_or("").to_string();
        Ok(idx)
    }

    pub fn deploy(
        &mut self,
        idx: usize,
        p: &Params,
        user: &str,
        now: Instant,
    ) -> Result<(), SimError> {
        let m = &self.machines[idx];
        if m.owner.as_deref().is_some_and(|o| o != user) {
            return Err(SimError::Forbidden(
                "You are not allowed to deploy this machine.".into(),
            ));
        }
        match m.status {
            Status::Allocated => {}
            // Modern MAAS allocates a Ready machine on deploy.
            Status::Ready => {}
            other => {
                return Err(SimError::Conflict(format!(
                    "Can't deploy a machine that is in the '{}' state",
                    other.name()
                )));
            }
        }
        let user_data = match p.get("user_data") {
            Some(ud) => {
                let compact: String = ud.chars().filter(|c| !c.is_whitespace()).collect();
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map_err(|_| {
                            SimError::form("user_data", "Must be a valid base64-encoded string.")
                        })?,
                )
            }
            None => None,
        };
        let series = p
            .get("distro_series")
            .filter(|s| !s.is_empty())
            .map(|s| s.split('/').next_back().unwrap_or(s).to_string())
            .unwrap_or_else(|| self.default_distro_series.clone());
        if !DISTRO_SERIES.contains(&series.as_str()) {
            return Err(SimError::form(
                "distro_series",
                &format!(
                    "'{series}' is not a valid distro_series.  It should be one of: '', {}.",
                    DISTRO_SERIES
                        .iter()
                        .map(|s| format!("'ubuntu/{s}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let hwe = p.get("hwe_kernel").filter(|s| !s.is_empty());
        if let Some(k) = hwe {
            let ok = (k.starts_with("ga-") || k.starts_with("hwe-"))
                && k.len() > 3
                && k[k.find('-').unwrap_or(0) + 1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return Err(SimError::BadRequest(format!(
                    "{k} is not available for ubuntu/{series} on amd64/generic."
                )));
            }
        }
        let installation = self.next_installation_id;
        self.next_installation_id += 1;
        self.assign_auto_addresses(idx);
        let m = &mut self.machines[idx];
        m.installation_result_id = Some(installation);
        m.owner = Some(user.to_string());
        m.status = Status::Deploying;
        m.status_message = "Deploying".into();
        m.power_state = "on";
        m.osystem = "ubuntu".into();
        m.distro_series = series;
        m.hwe_kernel = hwe.map(str::to_string);
        m.user_data = user_data;
        if let Some(a) = p.get("agent_name") {
            m.agent_name = a.to_string();
        }
        let outcome = if m.fails_deploy {
            Status::FailedDeployment
        } else {
            Status::Deployed
        };
        let d = self.durations.deploying;
        self.schedule(idx, now, &[(d, outcome)]);
        Ok(())
    }

    pub fn release(&mut self, idx: usize, p: &Params, now: Instant) -> Result<(), SimError> {
        let status = self.machines[idx].status;
        match status {
            Status::Ready => return Ok(()),
            Status::Releasing | Status::DiskErasing => return Ok(()),
            Status::Allocated
            | Status::Reserved
            | Status::Deployed
            | Status::Deploying
            | Status::FailedDeployment
            | Status::FailedReleasing
            | Status::FailedDiskErasing
            | Status::Broken
            | Status::Missing => {}
            other => {
                return Err(SimError::Conflict(format!(
                    "Machine cannot be released in its current state ('{}').",
                    other.name()
                )));
            }
        }
        let erase = p.flag("erase") || p.flag("secure_erase") || p.flag("quick_erase");
        let erase_d = if p.flag("secure_erase") {
            self.durations.secure_erasing
        } else if p.flag("quick_erase") {
            self.durations.quick_erasing
        } else {
            self.durations.erasing
        };
        let m = &mut self.machines[idx];
        m.status = Status::Releasing;
        m.status_message = "Releasing".into();
        let rel = self.durations.releasing;
        if erase {
            self.schedule(
                idx,
                now,
                &[(rel, Status::DiskErasing), (erase_d, Status::Ready)],
            );
        } else {
            self.schedule(idx, now, &[(rel, Status::Ready)]);
        }
        Ok(())
    }

    pub fn commission(&mut self, idx: usize, p: &Params, now: Instant) -> Result<(), SimError> {
        let m = &self.machines[idx];
        match m.status {
            Status::New
            | Status::Ready
            | Status::FailedCommissioning
            | Status::FailedTesting
            | Status::Broken => {}
            other => {
                return Err(SimError::Conflict(format!(
                    "Machine cannot be commissioned in its current state ('{}').",
                    other.name()
                )));
            }
        }
        let skip_storage = p.flag("skip_storage");
        let m = &mut self.machines[idx];
        m.status = Status::Commissioning;
        m.power_state = "on";
        m.owner = None;
        if !skip_storage {
            m.storage.clear();
        }
        let (c, t) = (self.durations.commissioning, self.durations.testing);
        self.schedule(idx, now, &[(c, Status::Testing), (t, Status::Ready)]);
        Ok(())
    }

    pub fn abort(&mut self, idx: usize) -> Result<(), SimError> {
        let m = &mut self.machines[idx];
        let back = match m.status {
            Status::Commissioning | Status::Testing => Status::New,
            Status::Deploying => Status::Allocated,
            Status::DiskErasing => Status::FailedDiskErasing,
            other => {
                return Err(SimError::Conflict(format!(
                    "Node cannot be aborted in its current state ('{}').",
                    other.name()
                )));
            }
        };
        m.timeline.clear();
        m.status = back;
        m.power_state = "off";
        Ok(())
    }

    pub fn set_storage_layout(&mut self, idx: usize, p: &Params) -> Result<(), SimError> {
        if self.machines[idx].status != Status::Ready {
            return Err(SimError::Conflict(
                "Cannot change the storage layout on a machine that is not Ready.".into(),
            ));
        }
        let Some(layout) = p.get("storage_layout") else {
            return Err(SimError::form("storage_layout", "This field is required."));
        };
        if !["flat", "lvm", "bcache", "blank", "vmfs6", "custom"].contains(&layout) {
            return Err(SimError::form(
                "storage_layout",
                &format!("Select a valid choice. {layout} is not one of the available choices."),
            ));
        }
        if matches!(layout, "vmfs6" | "custom") {
            return Err(SimError::BadRequest(format!(
                "Storage layout '{layout}' is not supported by this MAAS."
            )));
        }
        let boot = self.machines[idx]
            .storage
            .boot_disk
            .and_then(|b| self.machines[idx].storage.device(b))
            .or_else(|| self.machines[idx].storage.physical().next())
            .map_or(0, |d| d.size);
        let size = |name: &str| -> Result<Option<u64>, SimError> {
            match p.get(name) {
                None | Some("") => Ok(None),
                Some(s) => parse_size(s, boot)
                    .map(Some)
                    .ok_or_else(|| SimError::form(name, "Size is not valid.")),
            }
        };
        let opts = LayoutOptions {
            boot_size: size("boot_size")?,
            root_size: size("root_size")?,
            root_device: match p.get("root_device") {
                None | Some("") => None,
                Some(s) => Some(
                    s.parse()
                        .map_err(|_| SimError::form("root_device", "Select a valid choice."))?,
                ),
            },
            vg_name: p
                .get("vg_name")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            lv_name: p
                .get("lv_name")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            lv_size: size("lv_size")?,
        };
        let mut ids = self.ids.clone();
        let r = self.machines[idx]
            .storage
            .apply_layout(&mut ids, layout, &opts);
        self.ids = ids;
        r
    }

    /// Storage may be edited only while Ready or Allocated, as in MAAS.
    pub fn check_storage_editable(&self, idx: usize) -> Result<(), SimError> {
        match self.machines[idx].status {
            Status::Ready | Status::Allocated => Ok(()),
            s => Err(SimError::Conflict(format!(
                "Cannot change the storage of a machine in the '{}' state; the machine must be Ready or Allocated.",
                s.name()
            ))),
        }
    }

    pub fn set_owner_data(&mut self, idx: usize, p: &Params, user: &str) -> Result<(), SimError> {
        let m = &mut self.machines[idx];
        if m.owner.as_deref() != Some(user) {
            return Err(SimError::Forbidden(
                "You do not own this machine; only its owner may set owner data.".into(),
            ));
        }
        for (k, v) in p.pairs() {
            if k == "op" {
                continue;
            }
            if v.is_empty() {
                m.owner_data.remove(k);
            } else {
                m.owner_data.insert(k.to_string(), v.to_string());
            }
        }
        Ok(())
    }

    pub fn mark_broken(&mut self, idx: usize) -> Result<(), SimError> {
        let m = &mut self.machines[idx];
        if m.status == Status::Broken {
            return Ok(());
        }
        m.before_broken = Some(m.status);
        m.timeline.clear();
        m.status = Status::Broken;
        Ok(())
    }

    pub fn mark_fixed(&mut self, idx: usize) -> Result<(), SimError> {
        let m = &mut self.machines[idx];
        if m.status != Status::Broken {
            return Err(SimError::Conflict(format!(
                "Unable to be fixed because the node is not in the 'Broken' state (currently '{}').",
                m.status.name()
            )));
        }
        m.status = match m.before_broken.take() {
            Some(Status::Deployed) => Status::Deployed,
            _ => Status::Ready,
        };
        if m.status == Status::Ready {
            // A Ready machine belongs to nobody.
            m.owner = None;
            m.owner_data.clear();
            m.osystem.clear();
            m.distro_series.clear();
            m.user_data = None;
        }
        Ok(())
    }

    // ---- tags ----------------------------------------------------------------------------

    pub fn create_tag(&mut self, p: &Params) -> Result<Tag, SimError> {
        let name = p.get("name").unwrap_or("");
        if name.is_empty() {
            return Err(SimError::form("name", "This field is required."));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SimError::form(
                "name",
                "Invalid character in tag name (only letters, digits, - and _).",
            ));
        }
        if self.tags.contains_key(name) {
            return Err(SimError::form("name", "Tag with this Name already exists."));
        }
        let tag = Tag {
            name: name.to_string(),
            comment: p.get("comment").unwrap_or("").to_string(),
            definition: p.get("definition").unwrap_or("").to_string(),
            kernel_opts: p.get("kernel_opts").unwrap_or("").to_string(),
        };
        self.tags.insert(name.to_string(), tag.clone());
        Ok(tag)
    }

    pub fn tag(&self, name: &str) -> Result<&Tag, SimError> {
        self.tags
            .get(name)
            .ok_or_else(|| SimError::NotFound("No Tag matches the given query.".into()))
    }

    pub fn update_tag(&mut self, name: &str, p: &Params) -> Result<Tag, SimError> {
        self.tag(name)?;
        let mut tag = self.tags.remove(name).expect("checked");
        if let Some(n) = p.get("name") {
            if n != name && self.tags.contains_key(n) {
                self.tags.insert(name.to_string(), tag);
                return Err(SimError::form("name", "Tag with this Name already exists."));
            }
            for m in &mut self.machines {
                for t in &mut m.tags {
                    if t == name {
                        *t = n.to_string();
                    }
                }
            }
            tag.name = n.to_string();
        }
        if let Some(c) = p.get("comment") {
            tag.comment = c.to_string();
        }
        if let Some(k) = p.get("kernel_opts") {
            tag.kernel_opts = k.to_string();
        }
        if let Some(d) = p.get("definition") {
            tag.definition = d.to_string();
        }
        self.tags.insert(tag.name.clone(), tag.clone());
        Ok(tag)
    }

    pub fn delete_tag(&mut self, name: &str) -> Result<(), SimError> {
        self.tag(name)?;
        self.tags.remove(name);
        for m in &mut self.machines {
            m.tags.retain(|t| t != name);
        }
        Ok(())
    }

    pub fn update_nodes(&mut self, name: &str, p: &Params) -> Result<Json, SimError> {
        let tag = self.tag(name)?.clone();
        if !tag.definition.is_empty() {
            return Err(SimError::Conflict(
                "Definition is set; cannot manually add or remove nodes.".into(),
            ));
        }
        let (mut added, mut removed) = (0, 0);
        for id in p.all("add") {
            let idx = self
                .index(id)
                .map_err(|_| SimError::form("add", &format!("Unknown node(s): {id}.")))?;
            let m = &mut self.machines[idx];
            if !m.tags.iter().any(|t| t == name) {
                m.tags.push(name.to_string());
                added += 1;
            }
        }
        for id in p.all("remove") {
            let idx = self
                .index(id)
                .map_err(|_| SimError::form("remove", &format!("Unknown node(s): {id}.")))?;
            let m = &mut self.machines[idx];
            let before = m.tags.len();
            m.tags.retain(|t| t != name);
            removed += before - m.tags.len();
        }
        Ok(json!({"added": added, "removed": removed}))
    }

    pub fn tag_json(tag: &Tag) -> Json {
        json!({
            "name": tag.name,
            "definition": tag.definition,
            "comment": tag.comment,
            "kernel_opts": tag.kernel_opts,
            "resource_uri": format!("/MAAS/api/2.0/tags/{}/", tag.name),
        })
    }

    // ---- the subnet and interface links ----------------------------------------------------

    /// The one subnet of the simulated region: `<network>.0/24`, id 1.
    pub fn subnet_cidr(&self) -> String {
        format!("{}.0/24", self.network)
    }

    pub fn subnet_json(&self) -> Json {
        let cidr = self.subnet_cidr();
        json!({
            "id": 1, "name": cidr, "cidr": cidr,
            "vlan": {"id": 5001, "vid": 0, "name": "untagged", "fabric": "fabric-0", "fabric_id": 0,
                     "mtu": 1500, "dhcp_on": true, "resource_uri": "/MAAS/api/2.0/vlans/5001/"},
            "gateway_ip": format!("{}.1", self.network), "dns_servers": [], "rdns_mode": 2,
            "allow_proxy": true, "active_discovery": false, "managed": true,
            "space": "undefined", "resource_uri": "/MAAS/api/2.0/subnets/1/",
        })
    }

    /// Whether `ip` is an address of the subnet (not its network or broadcast address).
    fn in_subnet(&self, ip: &str) -> bool {
        ip.strip_prefix(&format!("{}.", self.network))
            .and_then(|last| last.parse::<u8>().ok())
            .is_some_and(|o| (1..255).contains(&o))
            && ip.parse::<std::net::Ipv4Addr>().is_ok()
    }

    /// Whether `ip` is taken: some interface's STATIC link, or the AUTO address of a deployed
    /// machine, or the gateway.
    pub fn ip_in_use(&self, ip: &str) -> bool {
        ip == format!("{}.1", self.network)
            || self.machines.iter().any(|m| {
                let deployed = matches!(m.status, Status::Deployed | Status::Deploying);
                m.interfaces
                    .iter()
                    .any(|i| i.address(deployed).as_deref() == Some(ip))
            })
    }

    fn interface_index(&self, idx: usize, id: &str) -> Result<usize, SimError> {
        let id: u64 = id
            .parse()
            .map_err(|_| SimError::NotFound("No Interface matches the given query.".into()))?;
        self.machines[idx]
            .interfaces
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| SimError::NotFound("No Interface matches the given query.".into()))
    }

    /// As MAAS: links change only while the machine is New, Ready, Allocated or Broken.
    fn check_links_editable(&self, idx: usize, operation: &str) -> Result<(), SimError> {
        match self.machines[idx].status {
            Status::New
            | Status::Ready
            | Status::FailedTesting
            | Status::Allocated
            | Status::Broken => Ok(()),
            _ => Err(SimError::Conflict(format!(
                "Cannot {operation} interface because the machine is not New, Ready, Allocated, or Broken."
            ))),
        }
    }

    /// `op=link_subnet`: `mode` (AUTO, DHCP, STATIC, LINK_UP), `subnet` (id, `cidr:…` or the
    /// CIDR), `ip_address` (STATIC; a free one is picked when absent).
    pub fn link_subnet(&mut self, idx: usize, iface: &str, p: &Params) -> Result<Json, SimError> {
        self.check_links_editable(idx, "link")?;
        let ii = self.interface_index(idx, iface)?;
        let choices = "'AUTO', 'DHCP', 'STATIC', 'LINK_UP'";
        let mode = match p.get("mode") {
            None | Some("") => return Err(SimError::form("mode", "This field is required.")),
            Some(m) => LinkMode::parse(m).ok_or_else(|| {
                SimError::form(
                    "mode",
                    &format!("{m} is not one of the available choices. Choices are: {choices}."),
                )
            })?,
        };
        let cidr = self.subnet_cidr();
        let subnet = match p.get("subnet").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) if s == "1" || s == cidr || s.strip_prefix("cidr:") == Some(&cidr) => Some(1),
            Some(_) => {
                return Err(SimError::form(
                    "subnet",
                    "Select a valid choice. That choice is not one of the available choices.",
                ));
            }
        };
        if matches!(mode, LinkMode::Auto | LinkMode::Static) && subnet.is_none() {
            return Err(SimError::form("subnet", "This field is required."));
        }
        let ip = match (mode, p.get("ip_address").filter(|s| !s.is_empty())) {
            (LinkMode::Static, Some(ip)) => {
                if ip.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(SimError::form(
                        "ip_address",
                        "Enter a valid IPv4 or IPv6 address.",
                    ));
                }
                if !self.in_subnet(ip) {
                    return Err(SimError::form(
                        "ip_address",
                        &format!("IP address is not in the given subnet '{cidr}'."),
                    ));
                }
                if self.ip_in_use(ip) {
                    return Err(SimError::Conflict("IP address is already in use.".into()));
                }
                Some(ip.to_string())
            }
            (LinkMode::Static, None) => {
                let free = (200..255)
                    .map(|o| format!("{}.{o}", self.network))
                    .find(|ip| !self.ip_in_use(ip))
                    .ok_or_else(|| {
                        SimError::Conflict(format!("No more IPs available in subnet: {cidr}."))
                    })?;
                Some(free)
            }
            _ => None,
        };
        let links = &self.machines[idx].interfaces[ii].links;
        if mode == LinkMode::Dhcp && links.iter().any(|l| l.mode == LinkMode::Dhcp) {
            return Err(SimError::form(
                "mode",
                &format!("Interface is already set to DHCP from '{cidr}'."),
            ));
        }
        if mode == LinkMode::LinkUp && links.iter().any(|l| l.mode != LinkMode::LinkUp) {
            return Err(SimError::form(
                "mode",
                "Cannot configure interface to link up (with no IP address) while other links are already configured. Specify force=True to override this behavior and delete all links.",
            ));
        }
        let id = self.ids.next_id();
        let i = &mut self.machines[idx].interfaces[ii];
        // A LINK_UP placeholder gives way to a real link.
        i.links.retain(|l| l.mode != LinkMode::LinkUp);
        i.links.push(Link { id, mode, ip });
        let (m, i) = (&self.machines[idx], &self.machines[idx].interfaces[ii]);
        Ok(self.interface_json(m, i, false))
    }

    /// `op=unlink_subnet`: removes the link `id`; an interface left without links is LINK_UP.
    pub fn unlink_subnet(&mut self, idx: usize, iface: &str, p: &Params) -> Result<Json, SimError> {
        self.check_links_editable(idx, "unlink")?;
        let ii = self.interface_index(idx, iface)?;
        let given = p.get("id").unwrap_or("");
        let i = &self.machines[idx].interfaces[ii];
        let Some(pos) = i.links.iter().position(|l| l.id.to_string() == given) else {
            let choices: Vec<String> = i.links.iter().map(|l| format!("'{}'", l.id)).collect();
            return Err(SimError::form(
                "id",
                &format!(
                    "'{given}' is not a valid id.  It should be one of: {}.",
                    choices.join(", ")
                ),
            ));
        };
        let id = self.ids.next_id();
        let i = &mut self.machines[idx].interfaces[ii];
        i.links.remove(pos);
        if i.links.is_empty() {
            i.links.push(Link {
                id,
                mode: LinkMode::LinkUp,
                ip: None,
            });
        }
        let (m, i) = (&self.machines[idx], &self.machines[idx].interfaces[ii]);
        Ok(self.interface_json(m, i, false))
    }

    /// The interfaces of a machine, as `GET nodes/{id}/interfaces/` answers.
    pub fn interfaces_json(&self, idx: usize) -> Json {
        let m = &self.machines[idx];
        let deployed = matches!(m.status, Status::Deployed | Status::Deploying);
        Json::Array(
            m.interfaces
                .iter()
                .map(|i| self.interface_json(m, i, deployed))
                .collect(),
        )
    }

    pub fn interface_read(&self, idx: usize, iface: &str) -> Result<Json, SimError> {
        let ii = self.interface_index(idx, iface)?;
        let m = &self.machines[idx];
        let deployed = matches!(m.status, Status::Deployed | Status::Deploying);
        Ok(self.interface_json(m, &m.interfaces[ii], deployed))
    }

    /// At deploy, an AUTO link whose usual address another interface holds (as a STATIC
    /// address) gets a free one, as MAAS picks a free address for it.
    fn assign_auto_addresses(&mut self, idx: usize) {
        for ii in 0..self.machines[idx].interfaces.len() {
            let i = &self.machines[idx].interfaces[ii];
            if !i.links.iter().any(|l| l.mode == LinkMode::Auto) {
                continue;
            }
            let ip = i.ip.clone();
            let taken = self.machines.iter().enumerate().any(|(j, m)| {
                m.interfaces.iter().enumerate().any(|(k, o)| {
                    (j, k) != (idx, ii) && o.links.iter().any(|l| l.ip.as_deref() == Some(&ip))
                })
            });
            if taken
                && let Some(free) = (100..200)
                    .map(|o| format!("{}.{o}", self.network))
                    .find(|ip| !self.ip_in_use(ip))
            {
                self.machines[idx].interfaces[ii].ip = free;
            }
        }
    }

    // ---- machine JSON --------------------------------------------------------------------

    fn interface_json(&self, m: &Machine, i: &Interface, deployed: bool) -> Json {
        let vlan = json!({
            "id": 5001, "vid": 0, "name": "untagged", "fabric": "fabric-0", "fabric_id": 0,
            "mtu": 1500, "dhcp_on": true, "primary_rack": "rack01", "secondary_rack": null,
            "external_dhcp": null, "relay_vlan": null, "space": "undefined",
            "resource_uri": "/MAAS/api/2.0/vlans/5001/",
        });
        let subnet = self.subnet_json();
        let links: Vec<Json> = i
            .links
            .iter()
            .map(|l| {
                let mut j = json!({"id": l.id, "mode": l.mode.name()});
                if l.mode != LinkMode::LinkUp {
                    j["subnet"] = subnet.clone();
                }
                match (l.mode, &l.ip) {
                    (LinkMode::Static, Some(ip)) => j["ip_address"] = json!(ip),
                    (LinkMode::Auto, _) if deployed => j["ip_address"] = json!(i.ip),
                    _ => {}
                }
                j
            })
            .collect();
        json!({
            "id": i.id,
            "name": i.name,
            "type": "physical",
            "mac_address": i.mac,
            "enabled": true,
            "effective_mtu": 1500,
            "params": "",
            "parents": [],
            "children": [],
            "tags": [],
            "discovered": [],
            "links": links,
            "vlan": vlan,
            "system_id": m.system_id,
            "resource_uri": format!("/MAAS/api/2.0/nodes/{}/interfaces/{}/", m.system_id, i.id),
        })
    }

    /// STATIC addresses always; AUTO ones while the machine is deployed.
    pub fn ip_addresses(m: &Machine) -> Vec<String> {
        let deployed = matches!(m.status, Status::Deployed | Status::Deploying);
        m.interfaces
            .iter()
            .filter_map(|i| i.address(deployed))
            .collect()
    }

    pub fn machine_json(&self, m: &Machine) -> Json {
        let deployed = matches!(m.status, Status::Deployed | Status::Deploying);
        let interfaces: Vec<Json> = m
            .interfaces
            .iter()
            .map(|i| self.interface_json(m, i, deployed))
            .collect();
        let s = &m.storage;
        let physical: Vec<Json> = s
            .physical()
            .map(|d| s.device_json(&m.system_id, d))
            .collect();
        let virtual_: Vec<Json> = s
            .devices
            .iter()
            .filter(|d| d.kind != DeviceKind::Physical)
            .map(|d| s.device_json(&m.system_id, d))
            .collect();
        let all: Vec<Json> = s
            .devices
            .iter()
            .map(|d| s.device_json(&m.system_id, d))
            .collect();
        let vgs: Vec<Json> = s.vgs.iter().map(|v| s.vg_json(&m.system_id, v)).collect();
        let boot_disk = s
            .boot_disk
            .and_then(|b| s.device(b))
            .map(|d| s.device_json(&m.system_id, d))
            .unwrap_or(Json::Null);
        let storage_mb: f64 = s.physical().map(|d| d.size as f64 / 1e6).sum();
        let (cpu, mem) = if m.commissioned {
            (m.hardware.cpu_count, m.hardware.memory_mib)
        } else {
            (0, 0)
        };
        let status_action = match m.status {
            Status::Deploying => "Deploying",
            Status::Commissioning => "Commissioning",
            Status::Testing => "Testing",
            Status::DiskErasing => "Disk erasing",
            Status::Releasing => "Releasing",
            _ => "",
        };
        json!({
            "system_id": m.system_id,
            "hostname": m.hostname,
            "fqdn": format!("{}.{}", m.hostname, m.domain),
            "domain": {"id": 0, "name": m.domain, "authoritative": true, "ttl": null,
                       "resource_record_count": 0, "resource_uri": "/MAAS/api/2.0/domains/0/"},
            "description": "",
            "node_type": 0,
            "node_type_name": "Machine",
            "status": m.status.number(),
            "status_name": m.status.name(),
            "status_message": m.status_message,
            "status_action": status_action,
            "locked": false,
            "netboot": !matches!(m.status, Status::Deployed),
            "power_state": m.power_state,
            "power_type": m.power_type,
            "architecture": m.architecture,
            "min_hwe_kernel": "",
            "hwe_kernel": m.hwe_kernel,
            "osystem": m.osystem,
            "distro_series": m.distro_series,
            "cpu_count": cpu,
            "cpu_speed": if m.commissioned { 2400 } else { 0 },
            "memory": mem,
            "storage": (storage_mb * 10.0).round() / 10.0,
            "swap_size": null,
            "owner": m.owner,
            "owner_data": m.owner_data,
            "address_ttl": null,
            "disable_ipv4": false,
            "ip_addresses": Self::ip_addresses(m),
            "tag_names": m.tags,
            "pool": {"id": 0, "name": m.pool, "description": "Default pool",
                     "resource_uri": format!("/MAAS/api/2.0/resourcepool/0/")},
            "zone": {"id": 1, "name": m.zone, "description": "",
                     "resource_uri": format!("/MAAS/api/2.0/zones/{}/", m.zone)},
            "boot_interface": interfaces.first().cloned().unwrap_or(Json::Null),
            "interface_set": interfaces,
            "macaddress_set": m.interfaces.iter().map(|i| json!({"mac_address": i.mac})).collect::<Vec<_>>(),
            "boot_disk": boot_disk,
            "blockdevice_set": all,
            "physicalblockdevice_set": physical,
            "virtualblockdevice_set": virtual_,
            "volume_groups": vgs,
            "raids": [],
            "cache_sets": [],
            "bcaches": [],
            "special_filesystems": [],
            "storage_layout": s.layout,
            "constraints_by_type": null,
            "hardware_info": {
                "system_vendor": "Unknown", "system_product": "Unknown", "system_version": "Unknown",
                "system_serial": "Unknown", "cpu_model": if m.commissioned { "Intel(R) Core(TM) i5-4590 CPU @ 3.30GHz" } else { "Unknown" },
                "mainboard_vendor": "Unknown", "mainboard_product": "Unknown",
                "mainboard_firmware_version": "Unknown", "mainboard_firmware_date": "Unknown",
            },
            "bios_boot_method": "uefi",
            "default_gateways": {
                "ipv4": {"gateway_ip": if deployed { json!("10.0.0.1") } else { Json::Null }, "link_id": null},
                "ipv6": {"gateway_ip": null, "link_id": null},
            },
            "current_commissioning_result_id": if m.commissioned { json!(1) } else { Json::Null },
            "current_testing_result_id": if m.commissioned { json!(2) } else { Json::Null },
            "current_installation_result_id": m.installation_result_id,
            "cpu_test_status": if m.commissioned { 2 } else { -1 },
            "cpu_test_status_name": if m.commissioned { "Passed" } else { "None" },
            "memory_test_status": if m.commissioned { 2 } else { -1 },
            "memory_test_status_name": if m.commissioned { "Passed" } else { "None" },
            "storage_test_status": if m.commissioned { 2 } else { -1 },
            "storage_test_status_name": if m.commissioned { "Passed" } else { "None" },
            "interface_test_status": -1,
            "interface_test_status_name": "Unknown",
            "other_test_status": -1,
            "other_test_status_name": "Unknown",
            "testing_status": if m.commissioned { 2 } else { -1 },
            "testing_status_name": if m.commissioned { "Passed" } else { "None" },
            "commissioning_status": if m.commissioned { 2 } else { -1 },
            "commissioning_status_name": if m.commissioned { "Passed" } else { "None" },
            "resource_uri": format!("/MAAS/api/2.0/machines/{}/", m.system_id),
        })
    }
}
