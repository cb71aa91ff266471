resource "maas_machine" "node" {
  for_each = toset(["kvm4", "kvm5"])

  hostname      = each.key
  distro_series = "jammy"
  user_data     = file("${path.module}/cloud-init.yaml")
  tags          = [maas_tag.garage.name]

  storage {
    layout = "lvm"

    volume "root" {
      size        = "100G"
      fstype      = "ext4"
      mount_point = "/"
    }

    # Raw and unformatted, e.g. for a Ceph OSD.
    volume "ceph" {
      size = "rest"
    }
  }

  timeouts {
    create = "40m"
  }
}
