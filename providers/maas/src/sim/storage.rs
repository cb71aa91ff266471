//! The simulated storage model of one machine: physical and virtual (LVM) block devices,
//! partitions, filesystems and volume groups, with MAAS's storage layouts (flat, lvm, bcache,
//! blank) and the finer operations (partition, volume group, logical volume, format, mount).
//!
//! Sizes are bytes. As in MAAS, partitions and logical volumes are rounded to 4 MiB and a small
//! amount of each disk is kept for the partition table.

use serde_json::{Value as Json, json};

use super::world::SimError;

pub const MIB: u64 = 1024 * 1024;
/// MAAS aligns partitions and logical volumes to 4 MiB.
pub const ALIGN: u64 = 4 * MIB;
/// Room kept on a partitioned disk for the GPT headers.
pub const TABLE_OVERHEAD: u64 = 8 * MIB;
/// What LVM keeps on each physical volume for its metadata.
pub const PV_OVERHEAD: u64 = 4 * MIB;
pub const EFI_SIZE: u64 = 512 * MIB;

#[derive(Clone, Debug)]
pub struct Filesystem {
    pub fstype: String,
    pub mount_point: Option<String>,
    pub mount_options: Option<String>,
    pub label: Option<String>,
    pub uuid: String,
}

#[derive(Clone, Debug)]
pub struct Partition {
    pub id: u64,
    pub uuid: String,
    pub size: u64,
    pub bootable: bool,
    pub fs: Option<Filesystem>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeviceKind {
    Physical,
    /// A logical volume of the volume group with this id.
    Virtual {
        vg: u64,
    },
}

#[derive(Clone, Debug)]
pub struct BlockDevice {
    pub id: u64,
    pub name: String,
    pub kind: DeviceKind,
    pub size: u64,
    pub block_size: u64,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub id_path: Option<String>,
    pub tags: Vec<String>,
    pub uuid: Option<String>,
    pub partitions: Vec<Partition>,
    pub fs: Option<Filesystem>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    Device(u64),
    Partition(u64),
}

#[derive(Clone, Debug)]
pub struct VolumeGroup {
    pub id: u64,
    pub name: String,
    pub uuid: String,
    pub members: Vec<Member>,
}

/// All storage of a machine.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    pub devices: Vec<BlockDevice>,
    pub vgs: Vec<VolumeGroup>,
    /// The boot disk chosen by the last layout.
    pub boot_disk: Option<u64>,
    /// The layout last applied (`flat`, `lvm`, …), for the machine's JSON.
    pub layout: Option<String>,
}

fn align_down(n: u64) -> u64 {
    n / ALIGN * ALIGN
}
fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Parses a MAAS size: bytes, or a number with a K/M/G/T/P suffix in powers of 1000 (as MAAS's
/// own converter), or KiB/MiB/GiB/TiB in powers of 1024. A trailing `%` is a share of `whole`.
pub fn parse_size(text: &str, whole: u64) -> Option<u64> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let pct: f64 = p.trim().parse().ok()?;
        if !(0.0..=100.0).contains(&pct) {
            return None;
        }
        return Some((whole as f64 * pct / 100.0) as u64);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "P" | "PB" => 1e15,
        "KIB" => 1024.0,
        "MIB" => 1024f64.powi(2),
        "GIB" => 1024f64.powi(3),
        "TIB" => 1024f64.powi(4),
        _ => return None,
    };
    Some((n * mult) as u64)
}

pub fn human_size(bytes: u64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

impl Storage {
    pub fn device(&self, id: u64) -> Option<&BlockDevice> {
        self.devices.iter().find(|d| d.id == id)
    }
    pub fn device_mut(&mut self, id: u64) -> Option<&mut BlockDevice> {
        self.devices.iter_mut().find(|d| d.id == id)
    }
    pub fn vg(&self, id: u64) -> Option<&VolumeGroup> {
        self.vgs.iter().find(|v| v.id == id)
    }
    pub fn partition(&self, id: u64) -> Option<(&BlockDevice, &Partition)> {
        self.devices
            .iter()
            .find_map(|d| d.partitions.iter().find(|p| p.id == id).map(|p| (d, p)))
    }
    pub fn partition_mut(&mut self, id: u64) -> Option<&mut Partition> {
        self.devices
            .iter_mut()
            .find_map(|d| d.partitions.iter_mut().find(|p| p.id == id))
    }

    pub fn physical(&self) -> impl Iterator<Item = &BlockDevice> {
        self.devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Physical)
    }

    /// The volume group a device or partition belongs to, if any.
    pub fn vg_of(&self, m: &Member) -> Option<&VolumeGroup> {
        self.vgs.iter().find(|v| v.members.contains(m))
    }

    fn member_size(&self, m: &Member) -> u64 {
        match m {
            Member::Device(id) => self.device(*id).map_or(0, |d| d.size),
            Member::Partition(id) => self.partition(*id).map_or(0, |(_, p)| p.size),
        }
    }

    pub fn vg_size(&self, vg: &VolumeGroup) -> u64 {
        align_down(
            vg.members
                .iter()
                .map(|m| self.member_size(m).saturating_sub(PV_OVERHEAD))
                .sum(),
        )
    }

    pub fn vg_used(&self, vg: &VolumeGroup) -> u64 {
        self.lvs(vg.id).map(|d| d.size).sum()
    }

    pub fn lvs(&self, vg: u64) -> impl Iterator<Item = &BlockDevice> {
        self.devices
            .iter()
            .filter(move |d| d.kind == DeviceKind::Virtual { vg })
    }

    fn partitions_used(dev: &BlockDevice) -> u64 {
        if dev.partitions.is_empty() {
            0
        } else {
            TABLE_OVERHEAD + dev.partitions.iter().map(|p| p.size).sum::<u64>()
        }
    }

    /// Bytes of a device not yet given to a partition, a filesystem or a volume group.
    pub fn available(&self, dev: &BlockDevice) -> u64 {
        if dev.fs.is_some() || self.vg_of(&Member::Device(dev.id)).is_some() {
            return 0;
        }
        if dev.partitions.is_empty() {
            dev.size
        } else {
            dev.size.saturating_sub(Self::partitions_used(dev))
        }
    }

    /// Removes every partition, filesystem, volume group and logical volume.
    pub fn clear(&mut self) {
        self.devices.retain(|d| d.kind == DeviceKind::Physical);
        self.vgs.clear();
        for d in &mut self.devices {
            d.partitions.clear();
            d.fs = None;
        }
        self.layout = None;
    }

    pub fn add_partition(
        &mut self,
        ids: &mut IdGen,
        device: u64,
        size: Option<u64>,
        bootable: bool,
    ) -> Result<u64, SimError> {
        let in_vg = self.vg_of(&Member::Device(device)).is_some();
        let dev = self
            .device(device)
            .ok_or_else(|| SimError::NotFound("No BlockDevice matches the given query.".into()))?;
        if dev.fs.is_some() || in_vg {
            return Err(SimError::form(
                "size",
                "Cannot create a partition on a block device that is formatted or in use.",
            ));
        }
        let free = if dev.partitions.is_empty() {
            dev.size.saturating_sub(TABLE_OVERHEAD)
        } else {
            dev.size.saturating_sub(Self::partitions_used(dev))
        };
        let free = align_down(free);
        let size = match size {
            Some(s) => align_up(s),
            None => free,
        };
        if size == 0 || size > free {
            return Err(SimError::form(
                "size",
                &format!(
                    "Partition cannot be saved; not enough free space on the block device (requested {size} bytes, {free} available)."
                ),
            ));
        }
        let id = ids.next_id();
        let uuid = ids.uuid();
        let dev = self.device_mut(device).expect("checked above");
        dev.partitions.push(Partition {
            id,
            uuid,
            size,
            bootable,
            fs: None,
        });
        Ok(id)
    }

    pub fn create_vg(
        &mut self,
        ids: &mut IdGen,
        name: &str,
        members: Vec<Member>,
    ) -> Result<u64, SimError> {
        if name.is_empty() {
            return Err(SimError::form("name", "This field is required."));
        }
        if self.vgs.iter().any(|v| v.name == name) {
            return Err(SimError::form(
                "name",
                "Volume group with this name already exists.",
            ));
        }
        if members.is_empty() {
            return Err(SimError::form(
                "__all__",
                "At least one valid block device or partition is required.",
            ));
        }
        for m in &members {
            let busy = match m {
                Member::Device(id) => match self.device(*id) {
                    None => true,
                    Some(d) => {
                        d.fs.is_some() || !d.partitions.is_empty() || d.kind != DeviceKind::Physical
                    }
                },
                Member::Partition(id) => match self.partition(*id) {
                    None => true,
                    Some((_, p)) => p.fs.is_some(),
                },
            } || self.vg_of(m).is_some();
            if busy {
                return Err(SimError::form(
                    "__all__",
                    "A block device or partition is unknown, formatted or already in use.",
                ));
            }
        }
        let id = ids.next_id();
        let uuid = ids.uuid();
        for m in &members {
            let fs = Filesystem {
                fstype: "lvm-pv".into(),
                mount_point: None,
                mount_options: None,
                label: None,
                uuid: ids.uuid(),
            };
            match m {
                Member::Device(d) => self.device_mut(*d).expect("checked").fs = Some(fs),
                Member::Partition(p) => self.partition_mut(*p).expect("checked").fs = Some(fs),
            }
        }
        self.vgs.push(VolumeGroup {
            id,
            name: name.to_string(),
            uuid,
            members,
        });
        Ok(id)
    }

    /// Creates a logical volume; `size` `None` takes all that is left.
    pub fn create_lv(
        &mut self,
        ids: &mut IdGen,
        vg_id: u64,
        name: &str,
        size: Option<u64>,
    ) -> Result<u64, SimError> {
        let vg = self
            .vg(vg_id)
            .ok_or_else(|| SimError::NotFound("No VolumeGroup matches the given query.".into()))?;
        if name.is_empty() {
            return Err(SimError::form("name", "This field is required."));
        }
        let full = format!("{}-{}", vg.name, name);
        if self.devices.iter().any(|d| d.name == full) {
            return Err(SimError::form(
                "name",
                "Logical volume with this name already exists in the volume group.",
            ));
        }
        let free = self.vg_size(vg).saturating_sub(self.vg_used(vg));
        let size = match size {
            Some(s) => align_up(s),
            None => free,
        };
        if size == 0 || size > free {
            return Err(SimError::form(
                "size",
                &format!("Size is too large. Maximum size is {free}, requested {size}."),
            ));
        }
        let id = ids.next_id();
        let uuid = ids.uuid();
        self.devices.push(BlockDevice {
            id,
            name: full,
            kind: DeviceKind::Virtual { vg: vg_id },
            size,
            block_size: 4096,
            model: None,
            serial: None,
            id_path: None,
            tags: Vec::new(),
            uuid: Some(uuid),
            partitions: Vec::new(),
            fs: None,
        });
        Ok(id)
    }

    pub fn delete_lv(&mut self, vg_id: u64, lv_id: u64) -> Result<(), SimError> {
        let before = self.devices.len();
        self.devices
            .retain(|d| !(d.id == lv_id && d.kind == DeviceKind::Virtual { vg: vg_id }));
        if self.devices.len() == before {
            return Err(SimError::NotFound(
                "No VirtualBlockDevice matches the given query.".into(),
            ));
        }
        Ok(())
    }

    pub fn delete_vg(&mut self, vg_id: u64) -> Result<(), SimError> {
        let vg = self
            .vg(vg_id)
            .cloned()
            .ok_or_else(|| SimError::NotFound("No VolumeGroup matches the given query.".into()))?;
        self.devices
            .retain(|d| d.kind != DeviceKind::Virtual { vg: vg_id });
        for m in &vg.members {
            match m {
                Member::Device(d) => {
                    if let Some(d) = self.device_mut(*d) {
                        d.fs = None
                    }
                }
                Member::Partition(p) => {
                    if let Some(p) = self.partition_mut(*p) {
                        p.fs = None
                    }
                }
            }
        }
        self.vgs.retain(|v| v.id != vg_id);
        Ok(())
    }

    /// Applies one of MAAS's storage layouts to a cleared storage.
    pub fn apply_layout(
        &mut self,
        ids: &mut IdGen,
        layout: &str,
        opts: &LayoutOptions,
    ) -> Result<(), SimError> {
        let boot = match opts.root_device {
            Some(id) => {
                if self
                    .device(id)
                    .is_none_or(|d| d.kind != DeviceKind::Physical)
                {
                    return Err(SimError::form(
                        "root_device",
                        "Select a valid choice. That choice is not one of the available choices.",
                    ));
                }
                id
            }
            None => match self
                .boot_disk
                .or_else(|| self.physical().next().map(|d| d.id))
            {
                Some(id) => id,
                None => {
                    return Err(SimError::form(
                        "__all__",
                        "Machine doesn't have any storage devices to configure.",
                    ));
                }
            },
        };
        let layout = match layout {
            // Without a cache device (an SSD) the bcache layout is the flat one.
            "bcache" => "flat",
            other => other,
        };
        self.clear();
        self.boot_disk = Some(boot);
        if layout == "blank" {
            self.layout = Some("blank".into());
            return Ok(());
        }
        let efi = self.add_partition(ids, boot, Some(EFI_SIZE), true)?;
        self.format_partition(ids, efi, "fat32", Some("efi"))?;
        self.mount_partition(efi, "/boot/efi", None)?;
        if let Some(bs) = opts.boot_size {
            let b = self.add_partition(ids, boot, Some(bs), false)?;
            self.format_partition(ids, b, "ext4", Some("boot"))?;
            self.mount_partition(b, "/boot", None)?;
        }
        match layout {
            "flat" => {
                let root = self.add_partition(ids, boot, opts.root_size, false)?;
                self.format_partition(ids, root, "ext4", Some("root"))?;
                self.mount_partition(root, "/", None)?;
            }
            "lvm" => {
                let pv = self.add_partition(ids, boot, opts.root_size, false)?;
                let vg_name = opts.vg_name.clone().unwrap_or_else(|| "vgroot".into());
                let vg = self.create_vg(ids, &vg_name, vec![Member::Partition(pv)])?;
                let lv_name = opts.lv_name.clone().unwrap_or_else(|| "lvroot".into());
                let lv = self.create_lv(ids, vg, &lv_name, opts.lv_size)?;
                self.format_device(ids, lv, "ext4", Some("root"))?;
                self.mount_device(lv, "/", None)?;
            }
            other => {
                return Err(SimError::form(
                    "storage_layout",
                    &format!("Select a valid choice. {other} is not one of the available choices."),
                ));
            }
        }
        self.layout = Some(layout.to_string());
        Ok(())
    }

    fn new_fs(ids: &mut IdGen, fstype: &str, label: Option<&str>) -> Filesystem {
        Filesystem {
            fstype: fstype.to_string(),
            mount_point: None,
            mount_options: None,
            label: label.map(str::to_string),
            uuid: ids.uuid(),
        }
    }

    pub fn format_device(
        &mut self,
        ids: &mut IdGen,
        id: u64,
        fstype: &str,
        label: Option<&str>,
    ) -> Result<(), SimError> {
        check_fstype(fstype)?;
        let in_vg = self.vg_of(&Member::Device(id)).is_some();
        let dev = self
            .device_mut(id)
            .ok_or_else(|| SimError::NotFound("No BlockDevice matches the given query.".into()))?;
        if !dev.partitions.is_empty() || in_vg {
            return Err(SimError::form(
                "__all__",
                "Cannot format a block device that has partitions or belongs to a volume group.",
            ));
        }
        if dev.fs.as_ref().is_some_and(|f| f.mount_point.is_some()) {
            return Err(SimError::form(
                "__all__",
                "Cannot format a block device that is mounted. Unmount it first.",
            ));
        }
        dev.fs = Some(Self::new_fs(ids, fstype, label));
        Ok(())
    }

    pub fn format_partition(
        &mut self,
        ids: &mut IdGen,
        id: u64,
        fstype: &str,
        label: Option<&str>,
    ) -> Result<(), SimError> {
        check_fstype(fstype)?;
        let in_vg = self.vg_of(&Member::Partition(id)).is_some();
        let p = self
            .partition_mut(id)
            .ok_or_else(|| SimError::NotFound("No Partition matches the given query.".into()))?;
        if in_vg || p.fs.as_ref().is_some_and(|f| f.mount_point.is_some()) {
            return Err(SimError::form(
                "__all__",
                "Cannot format a partition that is mounted or in use.",
            ));
        }
        p.fs = Some(Self::new_fs(ids, fstype, label));
        Ok(())
    }

    pub fn mount_device(
        &mut self,
        id: u64,
        mount_point: &str,
        options: Option<&str>,
    ) -> Result<(), SimError> {
        let dev = self
            .device_mut(id)
            .ok_or_else(|| SimError::NotFound("No BlockDevice matches the given query.".into()))?;
        mount(dev.fs.as_mut(), mount_point, options, "block device")
    }

    pub fn mount_partition(
        &mut self,
        id: u64,
        mount_point: &str,
        options: Option<&str>,
    ) -> Result<(), SimError> {
        let p = self
            .partition_mut(id)
            .ok_or_else(|| SimError::NotFound("No Partition matches the given query.".into()))?;
        mount(p.fs.as_mut(), mount_point, options, "partition")
    }

    pub fn unmount_device(&mut self, id: u64) -> Result<(), SimError> {
        let dev = self
            .device_mut(id)
            .ok_or_else(|| SimError::NotFound("No BlockDevice matches the given query.".into()))?;
        match dev.fs.as_mut() {
            Some(fs) if fs.mount_point.is_some() => {
                fs.mount_point = None;
                fs.mount_options = None;
                Ok(())
            }
            Some(_) => Err(SimError::BadRequest(
                "Filesystem is already unmounted.".into(),
            )),
            None => Err(SimError::BadRequest(
                "Block device is not formatted.".into(),
            )),
        }
    }

    pub fn unformat_device(&mut self, id: u64) -> Result<(), SimError> {
        let in_vg = self.vg_of(&Member::Device(id)).is_some();
        let dev = self
            .device_mut(id)
            .ok_or_else(|| SimError::NotFound("No BlockDevice matches the given query.".into()))?;
        match &dev.fs {
            None => Err(SimError::BadRequest(
                "Block device is not formatted.".into(),
            )),
            Some(fs) if fs.mount_point.is_some() => Err(SimError::BadRequest(
                "Filesystem is mounted and cannot be unformatted. Unmount the filesystem before unformatting the block device.".into(),
            )),
            Some(_) if in_vg => Err(SimError::BadRequest(
                "Filesystem is part of a volume group, and cannot be unformatted. Remove block device from volume group before unformatting the block device.".into(),
            )),
            Some(_) => {
                dev.fs = None;
                Ok(())
            }
        }
    }

    // ---- JSON --------------------------------------------------------------------------

    pub fn fs_json(fs: &Option<Filesystem>) -> Json {
        match fs {
            None => Json::Null,
            Some(f) => json!({
                "fstype": f.fstype,
                "label": f.label,
                "uuid": f.uuid,
                "mount_point": f.mount_point,
                "mount_options": f.mount_options,
            }),
        }
    }

    fn used_for_fs(&self, fs: &Filesystem, member: &Member) -> String {
        if fs.fstype == "lvm-pv"
            && let Some(vg) = self.vg_of(member)
        {
            return format!("LVM volume for {}", vg.name);
        }
        match &fs.mount_point {
            Some(mp) => format!("{} formatted filesystem mounted at {mp}", fs.fstype),
            None => format!("Unmounted {} formatted filesystem", fs.fstype),
        }
    }

    pub fn device_path(dev: &BlockDevice) -> String {
        format!("/dev/disk/by-dname/{}", dev.name)
    }

    pub fn partition_json(&self, system_id: &str, dev: &BlockDevice, index: usize) -> Json {
        let p = &dev.partitions[index];
        let used_for = match &p.fs {
            Some(fs) => self.used_for_fs(fs, &Member::Partition(p.id)),
            None => "Unused".into(),
        };
        json!({
            "id": p.id,
            "uuid": p.uuid,
            "size": p.size,
            "bootable": p.bootable,
            "tags": [],
            "type": "partition",
            "path": format!("/dev/disk/by-dname/{}-part{}", dev.name, index + 1),
            "filesystem": Self::fs_json(&p.fs),
            "used_for": used_for,
            "device_id": dev.id,
            "system_id": system_id,
            "resource_uri": format!("/MAAS/api/2.0/nodes/{system_id}/blockdevices/{}/partition/{}", dev.id, p.id),
        })
    }

    pub fn device_json(&self, system_id: &str, dev: &BlockDevice) -> Json {
        let member = Member::Device(dev.id);
        let used_for = if let Some(fs) = &dev.fs {
            self.used_for_fs(fs, &member)
        } else if !dev.partitions.is_empty() {
            let n = dev.partitions.len();
            format!(
                "GPT partitioned with {n} partition{}",
                if n == 1 { "" } else { "s" }
            )
        } else {
            "Unused".into()
        };
        let available = self.available(dev);
        let partitions: Vec<Json> = (0..dev.partitions.len())
            .map(|i| self.partition_json(system_id, dev, i))
            .collect();
        let mut j = json!({
            "id": dev.id,
            "name": dev.name,
            "type": match dev.kind { DeviceKind::Physical => "physical", DeviceKind::Virtual { .. } => "virtual" },
            "path": Self::device_path(dev),
            "id_path": dev.id_path,
            "size": dev.size,
            "block_size": dev.block_size,
            "available_size": available,
            "used_size": dev.size - available,
            "model": dev.model,
            "serial": dev.serial,
            "uuid": dev.uuid,
            "tags": dev.tags,
            "partition_table_type": if dev.partitions.is_empty() { Json::Null } else { json!("GPT") },
            "partitions": partitions,
            "filesystem": Self::fs_json(&dev.fs),
            "used_for": used_for,
            "storage_pool": Json::Null,
            "system_id": system_id,
            "resource_uri": format!("/MAAS/api/2.0/nodes/{system_id}/blockdevices/{}/", dev.id),
        });
        if let DeviceKind::Virtual { vg } = dev.kind {
            j["volume_group"] = json!(vg);
        }
        j
    }

    pub fn vg_json(&self, system_id: &str, vg: &VolumeGroup) -> Json {
        let devices: Vec<Json> = vg
            .members
            .iter()
            .filter_map(|m| match m {
                Member::Device(id) => self.device(*id).map(|d| self.device_json(system_id, d)),
                Member::Partition(id) => self.partition(*id).map(|(d, p)| {
                    let idx = d.partitions.iter().position(|x| x.id == p.id).unwrap_or(0);
                    self.partition_json(system_id, d, idx)
                }),
            })
            .collect();
        let lvs: Vec<Json> = self
            .lvs(vg.id)
            .map(|d| self.device_json(system_id, d))
            .collect();
        let size = self.vg_size(vg);
        let used = self.vg_used(vg);
        json!({
            "id": vg.id,
            "name": vg.name,
            "uuid": vg.uuid,
            "size": size,
            "used_size": used,
            "available_size": size - used,
            "human_size": human_size(size),
            "human_used_size": human_size(used),
            "human_available_size": human_size(size - used),
            "devices": devices,
            "logical_volumes": lvs,
            "system_id": system_id,
            "resource_uri": format!("/MAAS/api/2.0/nodes/{system_id}/volume-group/{}/", vg.id),
        })
    }
}

fn check_fstype(fstype: &str) -> Result<(), SimError> {
    const FSTYPES: &[&str] = &[
        "ext2", "ext4", "xfs", "fat32", "vfat", "btrfs", "zfsroot", "swap", "ramfs", "tmpfs",
    ];
    if FSTYPES.contains(&fstype) {
        Ok(())
    } else {
        Err(SimError::form(
            "fstype",
            &format!("Select a valid choice. {fstype} is not one of the available choices."),
        ))
    }
}

fn mount(
    fs: Option<&mut Filesystem>,
    mount_point: &str,
    options: Option<&str>,
    what: &str,
) -> Result<(), SimError> {
    let Some(fs) = fs else {
        return Err(SimError::BadRequest(format!(
            "Cannot mount an unformatted {what}."
        )));
    };
    if fs.fstype != "swap" && !mount_point.starts_with('/') {
        return Err(SimError::form(
            "mount_point",
            "An absolute path is required.",
        ));
    }
    fs.mount_point = Some(mount_point.to_string());
    fs.mount_options = options.map(str::to_string);
    Ok(())
}

/// Parameters of `set_storage_layout`.
#[derive(Clone, Debug, Default)]
pub struct LayoutOptions {
    pub boot_size: Option<u64>,
    pub root_size: Option<u64>,
    pub root_device: Option<u64>,
    pub vg_name: Option<String>,
    pub lv_name: Option<String>,
    pub lv_size: Option<u64>,
}

/// Ids and UUIDs, deterministic from a seed.
#[derive(Clone, Debug)]
pub struct IdGen {
    next: u64,
    state: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> IdGen {
        IdGen {
            next: 1,
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
        }
    }
    pub fn next_id(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }
    /// xorshift64*: small, deterministic, good enough for ids and fault rolls.
    pub fn random(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.random() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uuid(&mut self) -> String {
        let a = self.random();
        let b = self.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
    /// A MAAS system id: six characters of lowercase letters and digits.
    pub fn system_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxy3456789";
        let mut r = self.random();
        (0..6)
            .map(|_| {
                let c = ALPHABET[(r % ALPHABET.len() as u64) as usize] as char;
                r /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(id: u64, size: u64) -> BlockDevice {
        BlockDevice {
            id,
            name: "sda".into(),
            kind: DeviceKind::Physical,
            size,
            block_size: 512,
            model: None,
            serial: None,
            id_path: None,
            tags: vec![],
            uuid: None,
            partitions: vec![],
            fs: None,
        }
    }

    #[test]
    fn sizes_use_maas_powers_of_1000_and_binary_suffixes_powers_of_1024() {
        assert_eq!(parse_size("100G", 0), Some(100_000_000_000));
        assert_eq!(parse_size("1GiB", 0), Some(1 << 30));
        assert_eq!(parse_size("4096", 0), Some(4096));
        assert_eq!(parse_size("50%", 1000), Some(500));
        assert_eq!(parse_size("ten", 0), None);
    }

    #[test]
    fn the_lvm_layout_makes_an_efi_partition_a_volume_group_and_a_root_volume() {
        let mut ids = IdGen::new(1);
        let mut s = Storage {
            devices: vec![disk(100, 500_000_000_000)],
            ..Default::default()
        };
        s.apply_layout(
            &mut ids,
            "lvm",
            &LayoutOptions {
                lv_name: Some("root".into()),
                lv_size: Some(100_000_000_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.vgs.len(), 1);
        let vg = s.vgs[0].clone();
        assert_eq!(vg.name, "vgroot");
        let lv: Vec<_> = s.lvs(vg.id).collect();
        assert_eq!(lv.len(), 1);
        assert_eq!(lv[0].name, "vgroot-root");
        assert_eq!(lv[0].fs.as_ref().unwrap().mount_point.as_deref(), Some("/"));
        let free = s.vg_size(&vg) - s.vg_used(&vg);
        let ceph = s.create_lv(&mut ids, vg.id, "ceph", None).unwrap();
        assert_eq!(s.device(ceph).unwrap().size, free);
        assert!(s.create_lv(&mut ids, vg.id, "more", None).is_err());
    }
}
