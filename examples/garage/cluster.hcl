# The Kubernetes layer: a MicroK8s cluster formed by the machines themselves.
#
# microk8s_cluster touches no network: it makes the cluster's join token, its certificate
# authority and an admin certificate, and renders one cloud-init document per node, which
# machines.hcl gives each machine. When the machines boot they install MicroK8s: the bootstrap
# node forms the cluster with brick's CA, the others join it. Each microk8s_node then waits
# for its machine's Node to be Ready, and sets the garage's labels on it.

locals {
  # The node that forms the cluster: the one with control_plane = true.
  bootstrap = one([for name, n in var.nodes : name if n.control_plane])
}

resource "microk8s_cluster" "garage" {
  channel = "1.32/stable"
  # The bootstrap node's static address (machines.hcl): known at plan, before its machine is
  # deployed. (Not maas_machine.node[…].static_ip: the machines' user_data is this cluster's
  # cloud-init, so that reference would go round in a circle.) brick checks at plan that the
  # two agree.
  api_address = local.static_ips[local.bootstrap]
  nodes       = var.nodes
  addons      = ["dns"]
}

resource "microk8s_node" "n" {
  for_each = var.nodes

  # The machine's hostname: the node waits for its machine, and is drained before the machine
  # is released.
  name          = maas_machine.node[each.key].hostname
  kubeconfig    = microk8s_cluster.garage.kubeconfig
  control_plane = each.value.control_plane
  labels        = { "garage.lan/role" = each.value.control_plane ? "control-plane" : "worker" }
  ready_timeout = "30m"
}

# Objects in the cluster are applied with the kubeconfig of the bootstrap node's
# microk8s_node: it is known only once that node is Ready, so nothing is sent to the API
# before the cluster exists. storage.hcl and kafka.hcl configure rook and strimzi the same way.
provider "k8s" {
  kubeconfig = microk8s_node.n[local.bootstrap].cluster_kubeconfig
}

output "kubeconfig" {
  description = "The cluster's admin kubeconfig: brick output -raw kubeconfig > garage.kubeconfig"
  value       = microk8s_cluster.garage.kubeconfig
  sensitive   = true
}

output "kubernetes_nodes" {
  description = "Every Node's address and capacity, as Kubernetes reports them."
  value = {
    for name, n in microk8s_node.n : name => {
      ip      = n.internal_ip
      cpu     = n.capacity["cpu"]
      memory  = n.capacity["memory"]
      kubelet = n.kubelet_version
    }
  }
}
