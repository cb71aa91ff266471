# The storage layer: Ceph run by Rook on the cluster, one OSD on every node's raw `ceph`
# volume (machines.hcl), a pool keeping two copies on different PCs, and the StorageClass that
# Kubernetes volumes (Kafka's, in kafka.hcl) are made from.

provider "rook" {
  kubeconfig = microk8s_node.n[local.bootstrap].cluster_kubeconfig
}

resource "rook_operator" "rook" {
  # Without `documents` brick installs a minimal operator (Namespace, ConfigMap, Deployment)
  # for a cluster whose Rook CRDs and RBAC exist, as in the lab. On real hardware give Rook's
  # release files (deploy/examples/ of rook/rook at a tag):
  #   documents = [for f in ["crds.yaml", "common.yaml", "operator.yaml"] : file("${path.module}/rook/${f}")]
  # kubelet_dir defaults to MicroK8s' /var/snap/microk8s/common/var/lib/kubelet.
}

resource "rook_cluster" "ceph" {
  # Node name => the devices Rook makes OSDs of: each machine's raw volume
  # (/dev/disk/by-dname/vgroot-ceph, known from the layout before the machine exists). Keyed by
  # microk8s_node so that Rook is given a node only once it is Ready.
  nodes = {
    for name, n in microk8s_node.n : n.name => [maas_machine.node[name].volume_paths["ceph"]]
  }
  depends_on = [rook_operator.rook]
}

resource "rook_block_pool" "replicapool" {
  name           = "replicapool"
  namespace      = rook_cluster.ceph.namespace
  size           = 2
  failure_domain = "host"
}

resource "rook_storage_class" "block" {
  name              = "rook-ceph-block"
  pool              = rook_block_pool.replicapool.name
  cluster_namespace = rook_cluster.ceph.namespace
}

output "ceph" {
  description = "The Ceph cluster's health, OSDs and raw capacity."
  value = {
    health         = rook_cluster.ceph.health
    osds           = rook_cluster.ceph.osds
    capacity_bytes = rook_cluster.ceph.capacity_bytes
    storage_class  = rook_storage_class.block.name
  }
}
