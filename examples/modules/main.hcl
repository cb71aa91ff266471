# A small cluster described with a child module: one `node` module instance per host,
# a shared cluster token, and outputs gathered from every node.

variable "hosts" {
  description = "Hostname → role of every machine in the cluster."
  type        = map(string)
  default = {
    kvm1 = "control-plane"
    kvm2 = "worker"
    kvm3 = "worker"
  }
}

variable "domain" {
  type    = string
  default = "garage.lan"
}

resource "brick_data" "cluster_token" {
  input = "token-for-${var.domain}"
}

module "node" {
  source   = "./node"
  for_each = var.hosts

  hostname = each.key
  role     = each.value
  domain   = var.domain
  token    = brick_data.cluster_token.output
}

output "fqdns" {
  description = "The fully qualified name of every node."
  value       = { for name, n in module.node : name => n.fqdn }
}

output "control_plane" {
  value = [for n in module.node : n.fqdn if n.role == "control-plane"]
}
