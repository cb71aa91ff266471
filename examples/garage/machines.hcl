# The machines layer of the garage: the old PCs that MAAS deploys with Ubuntu, each with an
# LVM layout of an OS volume and a raw volume for a Ceph OSD, and their cloud-init.
#
# The garage is four files, one per layer, each feeding the next:
#   machines.hcl  MAAS machines (this file) and var.nodes, the one map everything follows
#   cluster.hcl   MicroK8s: the cluster's certificates and join documents, one Node per machine
#   storage.hcl   Rook: Ceph on every node's raw volume, a pool and its StorageClass
#   kafka.hcl     Strimzi: a Kafka of three brokers on that StorageClass, and its topics
#
# Try it without hardware on the embedded lab (MAAS simulator, MicroK8s, Rook and Strimzi):
#   cargo run --release -- lab demo
# or against any MAAS (`brick lab serve` prints these lines for itself):
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

variable "api_address" {
  type        = string
  default     = "127.0.10.10" # the lab's address of `maas`
  description = "Static IPv4 address of the control-plane node: MAAS gives it to the node's boot interface before deploying it, and the cluster's join URL and API server use it (cluster.hcl)."
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

variable "nodes" {
  # Every PC of the garage, by its MAAS hostname: the one map all four layers follow. Each node
  # becomes a machine, a MicroK8s node, a Ceph OSD on its raw volume, and room for Kafka.
  # Exactly one node runs the Kubernetes control plane; its address is var.api_address.
  # Adding a PC is one line here (or in the whole map given in brick.vars.hcl or a -var-file).
  type = map(object({
    control_plane = bool
  }))
  default = {
    maas = { control_plane = true }
    kvm4 = { control_plane = false }
    kvm5 = { control_plane = false }
    # spare1 = { control_plane = false } # a fourth PC that has just PXE-booted: uncomment it
  }
  description = "The garage's PCs by MAAS hostname; exactly one has control_plane = true."

  validation {
    condition     = length([for n in var.nodes : n if n.control_plane]) == 1
    error_message = "Exactly one node must have control_plane = true: it forms the cluster."
  }
}

locals {
  # Nodes with a fixed address, given to their boot interface by MAAS (a STATIC link) before
  # they are deployed; the others get one from MAAS at deploy. The control-plane node needs
  # one: the other nodes join it at that address, known before any machine exists.
  static_ips = { for name, n in var.nodes : name => var.api_address if n.control_plane }
}

resource "maas_tag" "garage" {
  name    = "garage"
  comment = "The old PCs of the garage cluster"
}

resource "maas_machine" "node" {
  for_each = var.nodes

  hostname      = each.key
  distro_series = "jammy"
  static_ip     = lookup(local.static_ips, each.key, null)
  # The garage's own settings (hostname, packages, SSH keys) merged with the document that
  # makes this machine form or join the MicroK8s cluster (cluster.hcl).
  user_data = templatefile("${path.module}/cloud-init.tftpl", {
    name     = each.key
    ssh_keys = var.ssh_authorized_keys
    microk8s = yamldecode(microk8s_cluster.garage.cloud_init[each.key])
  })
  tags = [maas_tag.garage.name]

  storage {
    layout = "lvm"

    volume "root" {
      size        = "100G"
      fstype      = "ext4"
      mount_point = "/"
    }

    # Raw and unformatted: the Ceph layer (storage.hcl) turns it into an OSD.
    volume "ceph" {
      size = "rest"
    }
  }

  timeouts {
    create = "40m"
  }
}

output "nodes" {
  description = "Address and Ceph device of every node."
  value = {
    for name, m in maas_machine.node : name => {
      ip          = m.ip_addresses[0]
      ceph_device = m.volume_paths["ceph"]
    }
  }
}
