# The machines layer of the garage: three old PCs that MAAS deploys with Ubuntu, each with an
# LVM layout of an OS volume and a raw volume for a Ceph OSD, and their cloud-init.
#
# Try it without hardware on the embedded MAAS simulator:
#   cargo run --release -- lab demo
# or against any MAAS (the lab prints these lines for itself):
#   export MAAS_API_URL=http://10.0.0.1:5240/MAAS MAAS_API_KEY=consumer:token:secret
#   brick plan && brick apply

variable "maas_api_url" {
  type        = string
  default     = null
  description = "MAAS URL; null falls back to MAAS_API_URL."
}

variable "maas_api_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "MAAS API key (consumer:token:secret); null falls back to MAAS_API_KEY."
}

variable "ssh_authorized_keys" {
  type        = list(string)
  default     = []
  description = "Public keys allowed to log in as ubuntu on every node."
}

provider "maas" {
  api_url = var.maas_api_url
  api_key = var.maas_api_key
}

locals {
  nodes = toset(["maas", "kvm4", "kvm5"])
  # A fourth PC that has just PXE-booted (MAAS shows it as New; brick commissions it first):
  # nodes = toset(["maas", "kvm4", "kvm5", "spare1"])
}

resource "maas_tag" "garage" {
  name    = "garage"
  comment = "The old PCs of the garage cluster"
}

resource "maas_machine" "node" {
  for_each = local.nodes

  hostname      = each.key
  distro_series = "jammy"
  user_data = templatefile("${path.module}/cloud-init.tftpl", {
    name     = each.key
    ssh_keys = var.ssh_authorized_keys
  })
  tags = [maas_tag.garage.name]

  storage {
    layout = "lvm"

    volume "root" {
      size        = "100G"
      fstype      = "ext4"
      mount_point = "/"
    }

    # Raw and unformatted: the Ceph layer turns it into an OSD.
    volume "ceph" {
      size = "rest"
    }
  }

  timeouts {
    create = "40m"
  }
}

output "nodes" {
  description = "Address and Ceph device of every node, for the Kubernetes and Ceph layers."
  value = {
    for name, m in maas_machine.node : name => {
      ip          = m.ip_addresses[0]
      ceph_device = m.volume_paths["ceph"]
    }
  }
}
