# The Kafka layer: Strimzi's operator, the seed's Kafka — three brokers (KRaft, each also a
# controller), 100Gi each on the storage layer's rook-ceph-block — and its topics.

provider "strimzi" {
  kubeconfig = microk8s_node.n[local.bootstrap].cluster_kubeconfig
}

resource "k8s_manifest" "kafka_namespace" {
  manifest = { apiVersion = "v1", kind = "Namespace", metadata = { name = "kafka" } }
}

resource "strimzi_operator" "strimzi" {
  namespace = k8s_manifest.kafka_namespace.manifest.metadata.name
  # Without `manifests` Strimzi must be installed already, as in the lab. On real hardware
  # give a release's install/cluster-operator/*.yaml:
  #   manifests = [for f in fileset("${path.module}/strimzi", "*.yaml") : file("${path.module}/strimzi/${f}")]
}

resource "strimzi_kafka" "seed" {
  name      = "seed"
  namespace = strimzi_operator.strimzi.namespace
  brokers   = 3

  storage {
    size  = "100Gi"
    class = rook_storage_class.block.name
  }

  listener {
    name = "plain"
    port = 9092
    type = "internal"
  }
  listener {
    name = "tls"
    port = 9093
    type = "internal"
    tls  = true
  }
  listener {
    name = "external"
    port = 9094
    type = "nodeport"
  }

  # The seed's broker settings: three copies of everything, writes acknowledged by two.
  config = {
    "offsets.topic.replication.factor"         = "3"
    "transaction.state.log.replication.factor" = "3"
    "transaction.state.log.min.isr"            = "2"
    "default.replication.factor"               = "3"
    "min.insync.replicas"                      = "2"
  }
}

locals {
  # Topic name => partitions. Adding a topic is one entry.
  topics = {
    events  = 12
    metrics = 6
  }
}

resource "strimzi_topic" "topic" {
  for_each = local.topics

  name       = each.key
  namespace  = strimzi_kafka.seed.namespace
  cluster    = strimzi_kafka.seed.name
  partitions = each.value
  replicas   = 3
}

output "kafka_bootstrap" {
  description = "Bootstrap addresses per listener: external is every node's address with the NodePort."
  value       = strimzi_kafka.seed.bootstrap_servers
}
