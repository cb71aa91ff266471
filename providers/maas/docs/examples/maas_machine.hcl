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

# A fixed address for the boot interface, known at plan: MAAS links the interface to the
# subnet in mode STATIC before deploying (the control-plane node other nodes join).
resource "maas_machine" "control_plane" {
  hostname      = "maas"
  distro_series = "jammy"
  static_ip     = "10.0.0.11"
  subnet_cidr   = "10.0.0.0/24" # optional: the subnet that holds static_ip
}
