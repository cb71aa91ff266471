"""Drives brick's MAAS simulator with python-libmaas 0.6.8, Canonical's Python MAAS client.

Usage: python libmaas_scenario.py URL APIKEY

Each step checks what a real MAAS would answer; the script exits non-zero on the first
mismatch and prints one line per step ("ok: ...") so the Rust test can show how far it got.
libmaas builds its whole client from the simulator's `describe/` document, so getting this far
also proves that document is shaped like MAAS's.
"""

import asyncio
import sys

from maas.client import connect
from maas.client.bones import CallError, SessionAPI
from maas.client.enum import NodeStatus, PowerState
from maas.client.viscera.machines import FailedDeployment, MachineNotFound


def step(msg):
    print("ok:", msg, flush=True)


def check(cond, msg):
    if not cond:
        print("FAILED:", msg, flush=True)
        sys.exit(1)


async def main(url, apikey):
    client = await connect(url, apikey=apikey)
    _, session = await SessionAPI.connect(url, apikey=apikey)
    step("connected; the client was built from describe/")

    me = await client.users.whoami()
    check(me.username == "admin", "whoami names the key's user: %r" % me.username)
    step("whoami")

    machines = await client.machines.list()
    by_name = {m.hostname: m for m in machines}
    check(sorted(by_name) == ["kvm4", "kvm5", "maas", "spare1", "spare2", "spare3"],
          "the garage's six machines are listed: %r" % sorted(by_name))
    for name in ("maas", "kvm4", "kvm5"):
        check(by_name[name].status == NodeStatus.READY, "%s is Ready" % name)
    for name in ("spare1", "spare2", "spare3"):
        check(by_name[name].status == NodeStatus.NEW, "%s is New" % name)
    check(sum(by_name[n].cpus for n in ("maas", "kvm4", "kvm5")) == 50, "50 cores in all")
    check(sum(by_name[n].memory for n in ("maas", "kvm4", "kvm5")) == 80 * 1024, "80 GiB in all")
    step("list: 3 Ready, 3 New, 50 cores, 80 GiB")

    only = await client.machines.list(hostnames=["kvm4"])
    check([m.hostname for m in only] == ["kvm4"], "hostname filter")
    two = await client.machines.list(hostnames=["kvm4", "kvm5"])
    check(sorted(m.hostname for m in two) == ["kvm4", "kvm5"], "repeated hostname filter")
    step("list filtered by hostname (one and repeated)")

    kvm4 = by_name["kvm4"]
    check(kvm4.boot_interface.mac_address == "52:54:00:6b:34:01", "boot interface MAC")
    check(kvm4.power_state == PowerState.OFF, "a Ready machine is off")
    step("machine fields: boot_interface, power_state")

    # set_storage_layout is not wrapped by viscera: use the bones layer, as libmaas users do.
    data = await session.Machine.set_storage_layout(
        system_id=kvm4.system_id, storage_layout="lvm", vg_name="vgroot",
        lv_name="root", lv_size=str(100 * 10**9))
    vgs = data["volume_groups"]
    check([vg["name"] for vg in vgs] == ["vgroot"], "an lvm layout makes vgroot")
    check([lv["name"] for lv in vgs[0]["logical_volumes"]] == ["vgroot-root"], "lvroot named root")
    step("set_storage_layout lvm while Ready")

    vg_id = vgs[0]["id"]
    lv = await session.VolumeGroup.create_logical_volume(
        system_id=kvm4.system_id, id=vg_id, name="ceph")
    check(lv["type"] == "virtual" and lv["filesystem"] is None, "a raw logical volume")
    step("create_logical_volume takes the rest, raw")

    # viscera's own storage objects, loaded from the machine JSON and the storage handlers.
    kvm4 = await client.machines.get(system_id=kvm4.system_id)
    check(sorted(bd.name for bd in kvm4.block_devices) == ["sda", "vgroot-ceph", "vgroot-root"],
          "block devices: %r" % sorted(bd.name for bd in kvm4.block_devices))
    vg = kvm4.volume_groups[0]
    check(vg.name == "vgroot", "volume group name")
    check(sorted(lv.name for lv in vg.logical_volumes) == ["vgroot-ceph", "vgroot-root"],
          "logical volumes")
    check(vg.available_size == 0, "ceph took the rest: %r" % vg.available_size)
    sda = [bd for bd in kvm4.block_devices if bd.name == "sda"][0]
    check(len(sda.partitions) == 2, "EFI and LVM partitions on sda")
    check(sda.partitions[0].filesystem.mount_point == "/boot/efi", "EFI at /boot/efi")
    vgs = await client._origin.VolumeGroups.read(kvm4)
    check([v.name for v in vgs] == ["vgroot"], "VolumeGroups.read")
    one = await client._origin.VolumeGroup.read(kvm4, vg.id)
    check(one.size == vg.size and one.name == "vgroot", "VolumeGroup.read")
    step("viscera block devices, partitions, volume groups and logical volumes")

    try:
        await session.Machine.set_storage_layout(system_id=kvm4.system_id, storage_layout="bogus")
        check(False, "an unknown layout is refused")
    except CallError as e:
        check(e.status == 400, "unknown layout -> 400, got %s" % e.status)
    step("unknown layout refused with 400")

    try:
        await client.machines.allocate(hostname="spare1")
        check(False, "a New machine cannot be allocated")
    except MachineNotFound:
        pass
    step("allocate of a New machine -> 409 No machine available")

    m = await client.machines.allocate(hostname="kvm4")
    check(m.system_id == kvm4.system_id and m.status == NodeStatus.ALLOCATED, "allocated kvm4")
    step("allocate by hostname")

    try:
        await session.Machine.set_storage_layout(system_id=m.system_id, storage_layout="flat")
        check(False, "layout refused when not Ready")
    except CallError as e:
        check(e.status == 409, "409 when not Ready, got %s" % e.status)
        check(b"not Ready" in e.content, "MAAS's message: %r" % e.content)
    step("set_storage_layout while Allocated -> 409")

    tag = await client.tags.create("garage", comment="brick fidelity")
    await m.tags.add(tag)
    m = await client.machines.get(system_id=m.system_id)
    check([t.name for t in m.tags] == ["garage"], "tag added: %r" % [t.name for t in m.tags])
    step("tag create and update_nodes add")

    m = await m.deploy(user_data=b"#cloud-config\nhostname: kvm4\n", distro_series="jammy",
                       wait=True, wait_interval=0.05)
    check(m.status == NodeStatus.DEPLOYED, "deployed: %s" % m.status_name)
    check(m.distro_series == "jammy" and m.osystem == "ubuntu", "jammy deployed")
    check(len(m.ip_addresses) == 1, "an address once deployed")
    check(m.power_state == PowerState.ON, "a deployed machine is on")
    step("deploy with base64 user_data, wait for Deployed")

    try:
        await m.deploy(distro_series="jammy")
        check(False, "a deployed machine cannot be deployed again")
    except CallError as e:
        check(e.status == 409 and b"Deployed" in e.content, "409 with the state: %r" % e.content)
    step("deploy while Deployed -> 409 naming the state")

    m = await m.release(erase=True, quick_erase=True, wait=True, wait_interval=0.05)
    check(m.status == NodeStatus.READY, "released: %s" % m.status_name)
    check(m.ip_addresses == [] and m.distro_series == "", "release clears the deployment")
    step("release with erase, wait through Disk erasing to Ready")

    # kvm5 is set up (by the Rust side) to fail its deployments.
    kvm5 = await client.machines.allocate(hostname="kvm5")
    try:
        await kvm5.deploy(distro_series="jammy", wait=True, wait_interval=0.05)
        check(False, "kvm5's deployment fails")
    except FailedDeployment:
        pass
    kvm5 = await client.machines.get(system_id=kvm5.system_id)
    check(kvm5.status == NodeStatus.FAILED_DEPLOYMENT, "Failed deployment: %s" % kvm5.status_name)
    await kvm5.mark_broken(comment="fidelity")
    check(kvm5.status == NodeStatus.BROKEN, "mark_broken: %s" % kvm5.status_name)
    await kvm5.mark_fixed()
    check(kvm5.status == NodeStatus.READY, "mark_fixed: %s" % kvm5.status_name)
    step("a failing deployment raises FailedDeployment; mark_broken, mark_fixed")

    spare = by_name["spare1"]
    check(spare.cpus == 0, "a New machine's hardware is unknown before commissioning")
    spare = await spare.commission(wait=True, wait_interval=0.05)
    check(spare.status == NodeStatus.READY, "commissioned: %s" % spare.status_name)
    check(spare.cpus == 4, "commissioning discovered 4 cores")
    step("commission a New machine, wait for Ready")

    bad = await connect(url, apikey="aaa:bbb:ccc")
    try:
        await bad.machines.list()
        check(False, "a bad key is refused")
    except CallError as e:
        check(e.status == 401, "401, got %s" % e.status)
        check(e.content == b"Authorization Error: Invalid API key.", "MAAS's text: %r" % e.content)
    step("a bad key -> 401 Authorization Error: Invalid API key.")

    print("ALL OK", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
