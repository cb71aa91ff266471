//! The Kubernetes provider: the MicroK8s cluster, Rook and Strimzi resources, through the API server.
