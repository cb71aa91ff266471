# shellcheck shell=bash
# Strimzi peer (sourced by up.sh): Strimzi's real CRDs (kafka.strimzi.io/v1, from
# ../shared/manifests/strimzi-1.2.0 beside the repository: reference data the project never copies
# in) installed into the k8s peer, and the project's stand-in for Strimzi's Topic Operator
# (tests/peers/topic-operator, built with cargo) making the Kafka peer follow the KafkaTopics in
# namespace $STRIMZI_NAMESPACE labelled strimzi.io/cluster=$STRIMZI_CLUSTER. Needs k8s and kafka.
# Where the manifests are absent it starts nothing and exports STRIMZI_SKIPPED (the tests then
# skip with that reason, as for all reference data outside the repository).

STRIMZI_APT_PACKAGES=()
STRIMZI_NS=${STRIMZI_NAMESPACE:-kafka}
STRIMZI_CLUSTER_NAME=${STRIMZI_CLUSTER:-brick-peers}

# strimzi_manifests: the directory of Strimzi's install manifests, if it is there.
strimzi_manifests() {
  local d
  for d in "${STRIMZI_MANIFESTS:-}" "$PEERS_REPO/../shared/manifests/strimzi-1.2.0" \
    "$PEERS_REPO/../../shared/manifests/strimzi-1.2.0"; do
    [ -n "$d" ] && [ -d "$d/install" ] && {
      (cd "$d" && pwd)
      return 0
    }
  done
  return 1
}

# strimzi_build: the stand-in, built by cargo in the repository's own target directory, copied
# into the peer's directory so a later build never replaces the running binary.
strimzi_build() {
  local dir=$PEERS_DIR/strimzi t0 target
  t0=$(now_ms)
  log "strimzi: building the KafkaTopic stand-in (cargo build -p brick-peers-topic-operator)"
  (cd "$PEERS_REPO" && nice -n "${PEERS_NICE:-15}" cargo build -q -p brick-peers-topic-operator) \
    >"$dir/build.log" 2>&1 || {
    log_tail "$dir/build.log" 60
    die "strimzi: building the stand-in failed"
  }
  target=${CARGO_TARGET_DIR:-$PEERS_REPO/target}
  cp "$target/debug/brick-peers-topic-operator" "$dir/topic-operator"
  record_metric strimzi build_seconds "$(secs_since "$t0")"
}

strimzi_start() {
  local dir=$PEERS_DIR/strimzi manifests t0 kubectl f
  mkdir -p "$dir"
  if ! manifests=$(strimzi_manifests); then
    log "strimzi: skipped: ../shared/manifests/strimzi-1.2.0 is absent beside the repository (reference data; set STRIMZI_MANIFESTS to use another copy)"
    env_set strimzi STRIMZI_SKIPPED "../shared/manifests/strimzi-1.2.0 is absent beside the repository"
    return 0
  fi
  strimzi_build
  peer_wait_ready k8s strimzi
  peer_wait_ready kafka strimzi
  t0=$(now_ms)
  # shellcheck disable=SC1091
  . "$PEERS_DIR/k8s/env"
  # shellcheck disable=SC1091
  . "$PEERS_DIR/kafka/env"
  kubectl=$KUBECTL
  for f in "$manifests"/install/04?-Crd-*.yaml; do
    "$kubectl" apply --server-side -f "$f" >>"$dir/install.log" 2>&1 || {
      log_tail "$dir/install.log"
      die "strimzi: the API server refused $f"
    }
  done
  "$kubectl" wait --for=condition=Established --timeout=60s crd/kafkatopics.kafka.strimzi.io \
    crd/kafkas.kafka.strimzi.io crd/kafkanodepools.kafka.strimzi.io >>"$dir/install.log" 2>&1 || {
    log_tail "$dir/install.log"
    die "strimzi: the CRDs were not established"
  }
  # Idempotent: the k8s peer may have outlived an earlier strimzi peer.
  "$kubectl" create namespace "$STRIMZI_NS" --dry-run=client -o yaml 2>>"$dir/install.log" |
    "$kubectl" apply -f - >>"$dir/install.log" 2>&1 || {
    log_tail "$dir/install.log"
    die "strimzi: could not create namespace $STRIMZI_NS"
  }
  log "strimzi: CRDs from $manifests installed; namespace $STRIMZI_NS"

  KUBECONFIG=$KUBECONFIG STRIMZI_NAMESPACE=$STRIMZI_NS KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP \
    STRIMZI_RESOURCE_LABELS="strimzi.io/cluster=$STRIMZI_CLUSTER_NAME" \
    nohup "$dir/topic-operator" >"$dir/topic-operator.log" 2>&1 </dev/null &
  record_pid strimzi topic-operator $!

  # Ready once a probe KafkaTopic has become a topic (Ready) and been deleted again.
  "$kubectl" apply -f - >>"$dir/install.log" 2>&1 <<YAML || die "strimzi: could not create the probe KafkaTopic"
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata:
  name: brick-peers-probe
  namespace: $STRIMZI_NS
  labels:
    strimzi.io/cluster: $STRIMZI_CLUSTER_NAME
spec:
  partitions: 1
YAML
  strimzi_wait 60 "the probe KafkaTopic to be Ready" \
    "$kubectl" wait --for=condition=Ready --timeout=5s -n "$STRIMZI_NS" kafkatopic/brick-peers-probe
  strimzi_wait 60 "the probe KafkaTopic to be deleted" \
    "$kubectl" delete --timeout=5s -n "$STRIMZI_NS" kafkatopic/brick-peers-probe
  log "strimzi: KafkaTopic stand-in ready (namespace $STRIMZI_NS, cluster label $STRIMZI_CLUSTER_NAME)"
  env_set strimzi STRIMZI_NAMESPACE "$STRIMZI_NS"
  env_set strimzi STRIMZI_CLUSTER "$STRIMZI_CLUSTER_NAME"
  env_set strimzi STRIMZI_CRDS "$manifests/install"
  record_metric strimzi ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric strimzi rss_mb "$(rss_mb $(peer_pids strimzi))"
}

# strimzi_wait SECONDS WHAT COMMAND...: poll COMMAND; fail early if the stand-in died.
strimzi_wait() {
  local secs=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if ! pid_is_ours "$PEERS_DIR/strimzi/pids/topic-operator.pid" >/dev/null; then
      log_tail "$PEERS_DIR/strimzi/topic-operator.log"
      die "strimzi: the stand-in exited while waiting for $what"
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
      log_tail "$PEERS_DIR/strimzi/topic-operator.log"
      die "strimzi: timed out after ${secs}s waiting for $what"
    fi
    sleep 0.5
  done
}
